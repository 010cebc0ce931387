"""The demo account autoservis.amocrm.ru: the dent-repair shop «Автосервис Вмятин.нет» of
our story (Russian users, the «Ремонт» pipeline and a «Повторный контакт» follow-up
pipeline, contacts with phones, a company client, leads with prices on every stage).

Seeded before any integration is connected, so no webhook fires for it; `./dev up`
(devstack/amocrm.py) connects the app afterwards and finds ids through the control API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator

NAME = "Автосервис Вмятин.нет"
# (name, e-mail, is_admin): the owner and the masters who take the cars
USERS = [("Анна Волкова", "anna@vmyatin.example", True),
         ("Мария Соколова", "maria@vmyatin.example", False),
         ("Игорь Петров", "igor@vmyatin.example", False),
         ("Дмитрий Орлов", "dmitry@vmyatin.example", False),
         ("Светлана Кузьмина", "svetlana@vmyatin.example", False)]
STAGES = ["Заявка", "Осмотр", "Согласование", "В работе", "Готово"]
FOLLOW_UP = ("Повторный контакт", ["Напомнить", "Связались", "Записан"])
CONTACTS = [("Сергей Кузнецов", "+7 912 345-67-01"), ("Ольга Смирнова", "+7 912 345-67-02"),
            ("Алексей Попов", "+7 912 345-67-03"), ("Елена Васильева", "+7 912 345-67-04"),
            ("Николай Морозов", "+7 912 345-67-05"), ("Татьяна Новикова", "+7 912 345-67-06")]
COMPANY = ("ООО «Логистик-Урал» (автопарк)", "+7 343 200-10-10")
# (name, price, stage index in STAGES or "won", contact index; None: the company's)
LEADS = [("Вмятина на двери, Kia Rio", 12000, 0, 0),
         ("Капот после града, Skoda Octavia", 35000, 1, 1),
         ("Крыло, Hyundai Solaris", 8000, 2, 2),
         ("Бампер и порог, Toyota Camry", 22000, 3, 3),
         ("Вмятины на крыше, Lada Vesta", 9500, 0, 4),
         ("Дверь багажника, Renault Duster", 14000, 4, 5),
         ("Крыло и арка, Kia Rio", 11000, "won", 0),
         ("Парк: 3 машины после града", 96000, 2, None)]


def seed(emu: AmoEmulator) -> None:
    st = emu.state
    acc = st.add_account("autoservis", "amocrm.ru", NAME, USERS)
    with st.lock:
        acc.pipelines.clear()
        repair = st.add_pipeline(acc, "Ремонт", STAGES, is_main=True)
        st.add_pipeline(acc, *FOLLOW_UP)
        st.add_field(acc, "leads", "Марка автомобиля", "select",
                     enums=["Kia", "Skoda", "Hyundai", "Toyota", "Lada", "Renault"])
        st.add_field(acc, "leads", "Госномер", "text")
        st.add_field(acc, "leads", "Себестоимость", "numeric")
        st.add_field(acc, "leads", "Папка на Google Диске", "url")
        st.add_field(acc, "leads", "Дата визита", "date")
        st.add_field(acc, "contacts", "Число успешных сделок", "numeric")
    masters = [u.id for u in acc.users if not u.is_admin]
    contacts = [emu.create_contact(acc.id, acc.admin_id, phone=phone, name=name,
                                   responsible_user_id=masters[i % len(masters)])
                for i, (name, phone) in enumerate(CONTACTS)]
    company = emu.create_company(acc.id, acc.admin_id, name=COMPANY[0],
                                 responsible_user_id=masters[0], custom_fields_values=[
                                     {"field_code": "PHONE", "values": [
                                         {"value": COMPANY[1], "enum_code": "WORK"}]}])
    stages = [s["id"] for s in repair["statuses"] if s["type"] == 0 and s["id"] not in (142, 143)]
    for i, (name, price, stage, client) in enumerate(LEADS):
        status = 142 if stage == "won" else stages[int(stage)]
        embedded = ({"companies": [{"id": company["id"]}]} if client is None else
                    {"contacts": [{"id": contacts[client]["id"], "is_main": True}]})
        emu.create_lead(acc.id, acc.admin_id, name=name, price=price, status_id=status,
                        pipeline_id=repair["id"], responsible_user_id=masters[i % len(masters)],
                        _embedded=embedded)
