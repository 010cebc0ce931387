"""The deal tab's documents section (built next)."""

CARD_SECTIONS: tuple = ()
