"""Lead hygiene: how many of 1,000 new leads it judges right, on an emulated portal holding
clients whose phones and e-mails the new leads repeat in other spellings.

The portal holds 400 contacts (phones written «+7 (9xx) xxx-xx-xx» or, for a third of them,
as someone once typed them: «8 9xx…», «9xx…»; most with an e-mail, some with a company),
150 deals in work among them, and 100 open leads. Then 1,000 leads arrive:
repeats of a contact (its phone typed as «8 9xx…», «9xx…» or «+7 9xx…», its e-mail in
other letter case, or both), repeats of an open lead, spam from the exclusion list, and new
clients — a tenth of them one digit away from a known number. Each is judged by the
capability's own handler (robots.lead_hygiene.work.on_lead, as a worker runs it) against the
emulator's crm.duplicate.findbycomm.

A lead is a positive when the app takes it for a known client (attached, folded or already
linked); it is right when the client (or the deal or lead it is folded into) is the one the
generator made it repeat. `precision` is right positives over all positives, `recall` right
positives over every repeat; spam is counted the same way apart.

Rate limits are lifted for the measure (it is of judgement, not speed); `requests_per_lead`
is the emulator's count of what one lead costs.

    .venv/bin/python -m bench.lead_hygiene
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from bench.common import Stack, cpu_count, emit, load_average, reset_app_bucket, running_stack

NAME = "lead_hygiene"
SPAM_PHONES = ["+7 495 000-00-00", "+7 800 100-20-30"]
SPAM_DOMAIN = "spam-offers.ru"


def fm(phones: list[str] | None = None, emails: list[str] | None = None
       ) -> list[dict[str, str]]:
    return ([{"typeId": "PHONE", "valueType": "WORK", "value": p} for p in phones or []] +
            [{"typeId": "EMAIL", "valueType": "WORK", "value": e} for e in emails or []])


def canonical(digits: str) -> str:
    """«+7 (912) 345-67-89» of the ten national digits."""
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def respelled(rng: random.Random, digits: str) -> str:
    return rng.choice([f"8{digits}", f"8 ({digits[:3]}) {digits[3:6]} {digits[6:8]} {digits[8:]}",
                       digits, f"+7{digits}", f"7-{digits[:3]}-{digits[3:6]}-{digits[6:]}"])


class Population:
    """The portal's clients and the 1,000 leads with what each should become."""

    def __init__(self, seed: int, leads: int):
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        self.contacts = [self._client(i) for i in range(400)]
        self.leads_open = [{"digits": self._number(), "title": f"Открытый лид {i}"}
                           for i in range(100)]
        self.leads_new: list[dict[str, Any]] = []
        self.n = leads

    def _number(self) -> str:
        while True:
            digits = "9" + "".join(self.rng.choice("0123456789") for _ in range(9))
            if digits not in self.used:
                self.used.add(digits)
                return digits

    def _client(self, i: int) -> dict[str, Any]:
        digits = self._number()
        stored = canonical(digits) if i % 3 else respelled(self.rng, digits)  # as it was typed
        return {"digits": digits, "stored": stored, "name": f"Клиент {i}",
                "email": f"client{i}@firm{i % 97}.ru" if i % 5 else "",
                "company": i % 3 == 0, "deal": i < 150}

    def arrivals(self, contact_ids: list[int], deal_of: dict[int, int],
                 open_lead_ids: list[int]) -> list[dict[str, Any]]:
        rng, out = self.rng, []
        for i in range(self.n):
            kind = rng.random()
            if kind < 0.35:  # a repeat of a contact, by phone, e-mail or both
                c = rng.randrange(len(self.contacts))
                person = self.contacts[c]
                how = rng.choice(["phone", "email", "both"]) if person["email"] else "phone"
                phones = [respelled(rng, person["digits"])] if how != "email" else []
                emails = [person["email"].upper() if rng.random() < 0.5
                          else f" {person['email']} "] if how != "phone" else []
                truth = {"contact": contact_ids[c],
                         "target": f"deal/{deal_of[c]}" if c in deal_of else ""}
            elif kind < 0.45:  # a repeat of an open lead
                o = rng.randrange(len(self.leads_open))
                phones, emails = [respelled(rng, self.leads_open[o]["digits"])], []
                truth = {"contact": 0, "target": f"lead/{open_lead_ids[o]}"}
            elif kind < 0.50:  # spam
                if rng.random() < 0.5:
                    phones, emails = [rng.choice(SPAM_PHONES)], []
                else:
                    phones, emails = [], [f"promo{i}@{SPAM_DOMAIN}"]
                truth = {"spam": True}
            else:  # a new client; one in ten a digit away from a known number
                digits = self._number()
                if rng.random() < 0.1:
                    near = rng.choice(self.contacts)["digits"]
                    pos = rng.randrange(3, 10)
                    digits = near[:pos] + str((int(near[pos]) + 1) % 10) + near[pos + 1:]
                    if digits in self.used and digits != near:
                        digits = self._number()
                    self.used.add(digits)
                phones, emails = [respelled(rng, digits)], (
                    [f"new{i}@mail.ru"] if rng.random() < 0.5 else [])
                truth = {}
            out.append({"title": f"Заявка {i}", "fm": fm(phones, emails), "truth": truth})
        return out


def _context(stack: Stack, member_id: str) -> Any:
    from connector.config import load_settings
    from connector.context import JobContext
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    services.portal_settings.put(member_id, {"lead_hygiene": {
        "enabled": True, "exclusions": "\n".join([*SPAM_PHONES, "@" + SPAM_DOMAIN])}})
    ctx = JobContext.load(services, member_id, "bench", NAME)
    assert ctx is not None
    return ctx


def seed(stack: Stack, type_id: int, rows: list[dict[str, Any]]) -> list[int]:
    return [int(i) for i in stack.control("POST", f"seed-items/{type_id}", {"items": rows},
                                          timeout=600)["ids"]]


def judged(entry: dict[str, Any], truth: dict[str, Any]) -> tuple[bool, bool, bool, bool]:
    """(taken for a known client, rightly so, taken for spam, is spam)."""
    positive = entry.get("action") in ("attach", "fold", "known")
    right = positive and bool(truth) and not truth.get("spam") and (
        (truth["target"] and entry.get("target") == truth["target"]) or
        (not truth["target"] and truth["contact"] and entry.get("contact") == truth["contact"]))
    return positive, bool(right), entry.get("action") == "spam", bool(truth.get("spam"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lead_hygiene", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    from connector.capability import Event
    from connector.crm.port import ItemRef
    from robots.lead_hygiene import work

    people = Population(args.seed, args.leads)
    with running_stack(web=True) as stack:
        limits = stack.control("POST", "limits", {"enabled": False})
        emit(NAME, "stack", emulator_limits=limits, cpus=cpu_count(),
             load_average=load_average())
        member_id = stack.install()["member_id"]
        ctx = _context(stack, member_id)
        companies = seed(stack, 4, [{"title": f"ООО Фирма {i}"} for i in range(len(
            [c for c in people.contacts if c["company"]]))])
        firms = iter(companies)
        contact_ids = seed(stack, 3, [{
            "name": c["name"], "companyId": next(firms) if c["company"] else 0,
            "fm": fm([c["stored"]], [c["email"]] if c["email"] else [])}
            for c in people.contacts])
        with_deal = [i for i, c in enumerate(people.contacts) if c["deal"]]
        deal_ids = seed(stack, 2, [{"title": f"Сделка {i}", "stageId": "NEW",
                                    "contactIds": [contact_ids[i]]} for i in with_deal])
        deal_of = dict(zip(with_deal, deal_ids, strict=True))
        open_lead_ids = seed(stack, 1, [{"title": o["title"], "fm": fm([canonical(o["digits"])])}
                                        for o in people.leads_open])
        arrivals = people.arrivals(contact_ids, deal_of, open_lead_ids)
        lead_ids = seed(stack, 1, [{"title": a["title"], "fm": a["fm"]} for a in arrivals])
        stack.reset_stats()
        counts = {"pos": 0, "right": 0, "dups": 0, "spam_pred": 0, "spam_right": 0, "spam": 0}
        seconds = 0.0
        wrong: list[dict[str, Any]] = []
        for lead_id, arrival in zip(lead_ids, arrivals, strict=True):
            reset_app_bucket(stack.env, member_id)
            event = Event("lead.created", ItemRef("lead", lead_id), {}, f"bench-{lead_id}")
            t0 = time.perf_counter()
            entry = work.on_lead(ctx, event, ctx.crm.read(work.reads(ctx, event)))
            seconds += time.perf_counter() - t0
            truth = arrival["truth"]
            positive, right, spam_pred, spam = judged(entry, truth)
            counts["pos"] += positive
            counts["right"] += right
            counts["dups"] += bool(truth) and not truth.get("spam")
            counts["spam_pred"] += spam_pred
            counts["spam_right"] += spam_pred and spam
            counts["spam"] += spam
            if positive != right or (bool(truth) and not truth.get("spam") and not right):
                wrong.append({"lead": lead_id, "truth": truth, "got": {
                    k: entry.get(k) for k in ("action", "contact", "target")}})
        stats = stack.stats()
        emit(NAME, "mistakes", count=len(wrong), first=wrong[:5])
        emit(NAME, "summary", leads=len(lead_ids), repeats=counts["dups"],
             precision=round(counts["right"] / max(counts["pos"], 1), 4),
             recall=round(counts["right"] / max(counts["dups"], 1), 4),
             spam_precision=round(counts["spam_right"] / max(counts["spam_pred"], 1), 4),
             spam_recall=round(counts["spam_right"] / max(counts["spam"], 1), 4),
             requests_per_lead=round(int(stats["requests"]) / len(lead_ids), 2),
             ms_per_lead=round(1000 * seconds / len(lead_ids), 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
