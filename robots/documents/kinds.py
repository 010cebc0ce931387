"""The catalogue of documents the app ships: one entry per kind, declared once.

A kind names its shipped template (templates/docx/<file>), the side that pays («buyer»:
the client, or us when we buy — a car bought out from its owner, a carrier's services), the
default prefix of its numbers, and the sections of facts it needs beyond the deal, its sides
and its product rows (the car, the route, the cargo), which the admin maps to the deal's own
fields. Titles are msgids; a document prints its Russian title.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.i18n import N_, Msg

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "docx"
CLIENT, US = "client", "us"

# the facts a kind may need beyond the deal: section -> ((key, label), …)
SECTIONS: dict[str, tuple[tuple[str, Msg], ...]] = {
    "vehicle": (
        ("make_model", N_("Make and model")), ("vin", N_("VIN")),
        ("year", N_("Year of manufacture")), ("color", N_("Colour")),
        ("body_number", N_("Body number")), ("engine_number", N_("Engine number")),
        ("plate", N_("Registration plate")), ("pts", N_("Vehicle passport (ПТС)")),
        ("mileage", N_("Mileage, km")), ("price", N_("Agreed sale price")),
    ),
    "route": (
        ("shipper", N_("Shipper")), ("consignee", N_("Consignee")),
        ("loading_address", N_("Loading address")),
        ("loading_date", N_("Loading date")),
        ("unloading_address", N_("Unloading address")),
        ("unloading_date", N_("Unloading date")),
    ),
    "cargo": (
        ("name", N_("Cargo")), ("weight", N_("Weight, kg")), ("volume", N_("Volume, m³")),
        ("places", N_("Number of packages")), ("packing", N_("Packing")),
        ("value", N_("Declared value")),
    ),
    "transport": (
        ("carrier", N_("Carrier")), ("vehicle", N_("Truck (make, plate)")),
        ("trailer", N_("Trailer (plate)")), ("body_type", N_("Body type")),
        ("driver", N_("Driver")), ("driver_document", N_("Driver's identity document")),
        ("driver_phone", N_("Driver's phone")),
    ),
    "repair": (
        ("complaint", N_("Customer's complaint")), ("findings", N_("Findings")),
        ("recommendations", N_("Recommendations")), ("accepted", N_("Car accepted on")),
        ("ready", N_("Ready by")), ("warranty", N_("Warranty")),
    ),
}


@dataclass(frozen=True)
class Kind:
    code: str
    title: Msg  # the document's name; its Russian translation is the printed title
    file: str  # the shipped template in templates/docx/
    buyer: str  # CLIENT or US: which side the context calls `buyer`
    prefix: str  # the default number pattern's prefix: «СЧ-» in «СЧ-{YYYY}-{NNNNN}»
    business: str  # whose document it is: "car_dealer", "freight", "repair_shop"
    sections: tuple[str, ...] = ()  # of SECTIONS
    # requisites the document cannot go without (context.blank checks them)
    requires: tuple[str, ...] = ("seller.name", "buyer.name")

    @property
    def path(self) -> Path:
        return TEMPLATES / self.file

    @property
    def pattern(self) -> str:
        """The default number pattern (robots.documents.numbers)."""
        return f"{self.prefix}{{YYYY}}-{{NNNNN}}"


_PAYEE = ("seller.name", "seller.inn", "seller.bank.account", "seller.bank.bik",
          "buyer.name")
_TAX = ("seller.name", "seller.inn", "buyer.name", "buyer.inn")

KINDS: tuple[Kind, ...] = (
    # the car dealer
    Kind("buyout_contract", N_("Vehicle buy-out contract"), "buyout_contract.docx", US,
         "ДВ-", "car_dealer", ("vehicle",), ("seller.name", "buyer.name", "vehicle.vin")),
    Kind("commission_contract", N_("Commission contract"), "commission_contract.docx",
         CLIENT, "ДК-", "car_dealer", ("vehicle",),
         ("seller.name", "buyer.name", "vehicle.vin")),
    # the freight company
    Kind("invoice", N_("Invoice for payment"), "invoice.docx", CLIENT, "СЧ-", "freight",
         (), _PAYEE),
    Kind("services_act", N_("Act of services rendered"), "services_act.docx", CLIENT, "АКТ-",
         "freight", ("route",)),
    Kind("consignment_note", N_("Consignment note (ТН)"), "consignment_note.docx", CLIENT,
         "ТН-", "freight", ("route", "cargo", "transport")),
    Kind("waybill", N_("Goods consignment note (ТТН)"), "waybill.docx", CLIENT, "ТТН-",
         "freight", ("route", "cargo", "transport")),
    Kind("vat_invoice", N_("VAT invoice"), "vat_invoice.docx", CLIENT, "СФ-", "freight",
         ("route",), _TAX),
    Kind("forwarding_contract", N_("Freight forwarding contract"),
         "forwarding_contract.docx", CLIENT, "ДТЭ-", "freight"),
    Kind("transport_request", N_("Transport request"), "transport_request.docx", CLIENT,
         "З-", "freight", ("route", "cargo", "transport")),
    Kind("carrier_contract", N_("Carrier contract"), "carrier_contract.docx", US, "ДП-",
         "freight"),
    Kind("carrier_request", N_("Carrier request"), "carrier_request.docx", US, "ЗП-",
         "freight", ("route", "cargo", "transport")),
    Kind("customer_contract_request", N_("Contract-request with the customer"),
         "customer_contract_request.docx", CLIENT, "ДЗ-", "freight",
         ("route", "cargo", "transport")),
    Kind("carrier_contract_request", N_("Contract-request with the carrier"),
         "carrier_contract_request.docx", US, "ДЗП-", "freight",
         ("route", "cargo", "transport")),
    # the repair shop
    Kind("inspection_act", N_("Vehicle inspection act"), "inspection_act.docx", CLIENT,
         "АО-", "repair_shop", ("vehicle", "repair")),
    Kind("work_order", N_("Work order"), "work_order.docx", CLIENT, "ЗН-", "repair_shop",
         ("vehicle", "repair")),
    Kind("completion_act", N_("Act of completed works"), "completion_act.docx", CLIENT,
         "АВР-", "repair_shop", ("vehicle", "repair")),
)
BY_CODE: dict[str, Kind] = {k.code: k for k in KINDS}


def kind(code: str) -> Kind:
    """The kind of this code; KeyError for one the catalogue does not have."""
    return BY_CODE[code]
