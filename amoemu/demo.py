"""The demo account autoservis.amocrm.ru: the dent-repair shop of our story (Russian
users, the «Ремонт» pipeline and a «Повторный контакт» follow-up pipeline, contacts with
phones, leads with prices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator

USERS = [("Анна Волкова", "anna@autoservis.example", True),
         ("Мария Соколова", "maria@autoservis.example", False),
         ("Игорь Петров", "igor@autoservis.example", False),
         ("Дмитрий Орлов", "dmitry@autoservis.example", False)]
STAGES = ["Заявка", "Осмотр", "Согласование", "В работе", "Готово"]
CONTACTS = [("Сергей Кузнецов", "+7 912 345-67-01"), ("Ольга Смирнова", "+7 912 345-67-02"),
            ("Алексей Попов", "+7 912 345-67-03"), ("Елена Васильева", "+7 912 345-67-04")]
LEADS = [("Вмятина на двери, Kia Rio", 12000, 0), ("Капот после града, Skoda Octavia", 35000, 1),
         ("Крыло, Hyundai Solaris", 8000, 2), ("Бампер и порог, Toyota Camry", 22000, 3)]


def seed(emu: AmoEmulator) -> None:
    st = emu.state
    acc = st.add_account("autoservis", "amocrm.ru", "Автосервис «Без вмятин»", USERS)
    with st.lock:
        acc.pipelines.clear()
        repair = st.add_pipeline(acc, "Ремонт", STAGES, is_main=True)
        st.add_pipeline(acc, "Повторный контакт", ["Напомнить", "Связались", "Записан"])
        st.add_field(acc, "leads", "Марка автомобиля", "select",
                     enums=["Kia", "Skoda", "Hyundai", "Toyota", "Lada"])
        st.add_field(acc, "leads", "Папка на Google Диске", "url")
        st.add_field(acc, "leads", "Дата визита", "date")
        st.add_field(acc, "contacts", "Число успешных сделок", "numeric")
    users = [u.id for u in acc.users if not u.is_admin]
    contacts = []
    for i, (name, phone) in enumerate(CONTACTS):
        contacts.append(emu.create_contact(acc.id, acc.admin_id, phone=phone, name=name,
                                           responsible_user_id=users[i % len(users)]))
    stages = [s["id"] for s in repair["statuses"] if s["type"] == 0 and s["id"] not in (142, 143)]
    for i, (name, price, stage) in enumerate(LEADS):
        emu.create_lead(acc.id, acc.admin_id, name=name, price=price,
                        status_id=stages[stage], pipeline_id=repair["id"],
                        responsible_user_id=users[i % len(users)],
                        _embedded={"contacts": [{"id": contacts[i]["id"], "is_main": True}]})
