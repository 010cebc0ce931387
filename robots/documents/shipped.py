"""The templates the app ships, one per kind of robots.documents.kinds, written from code so
that a change to one is a reviewable diff. `python -m robots.documents.shipped` (or
`build()`) writes every file into templates/docx/; a test checks that the committed files are
what build() makes and that each renders.

Each is a Russian business document: its title with the number and the date, the parties
«в лице … действующего на основании …», the subject, the product table with VAT and totals,
the amount in words, both sides' requisites with bank details, and the signatures. The
field names are the context's (docs/documents.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from robots.documents.kinds import KINDS, TEMPLATES
from robots.documents.layout import SIGN, Column, Page

GOODS = (
    Column("№", "{{ it.n }}", 8, "center"),
    Column("Наименование", "{{ it.name }}", 78),
    Column("Кол-во", "{{ it.quantity }}", 16, "right"),
    Column("Ед.", "{{ it.unit }}", 12, "center"),
    Column("Цена", "{{ it.price }}", 24, "right"),
    Column("Сумма", "{{ it.total }}", 26, "right"),
)
GOODS_VAT = (
    GOODS[0],
    Column("Наименование", "{{ it.name }}", 66),
    *GOODS[2:4],
    Column("Цена", "{{ it.price }}", 22, "right"),
    Column("НДС", "{{ it.vat_rate }}", 22, "center"),
    Column("Сумма НДС", "{{ it.vat }}", 22, "right"),
    Column("Сумма", "{{ it.total }}", 24, "right"),
)
WORKS_DISCOUNT = (
    Column("№", "{{ it.n }}", 8, "center"),
    Column("Работы, запасные части и материалы", "{{ it.name }}", 66),
    Column("Кол-во", "{{ it.quantity }}", 14, "right"),
    Column("Ед.", "{{ it.unit }}", 11, "center"),
    Column("Цена", "{{ it.price_before }}", 22, "right"),
    Column("Скидка", "{{ it.discount_rate }}", 16, "center"),
    Column("Сумма скидки", "{{ it.discount }}", 20, "right"),
    Column("Сумма", "{{ it.total }}", 22, "right"),
)

SUBJECT_DEAL = "Основание: {{ deal.title }} (сделка № {{ deal.id }})"
CONTRACT_TAIL = [
    "Договор вступает в силу с момента подписания и действует до полного исполнения "
    "Сторонами своих обязательств.",
    "Споры разрешаются путём переговоров, а при недостижении согласия — в суде по месту "
    "нахождения ответчика с соблюдением претензионного порядка; срок ответа на претензию — "
    "10 (десять) рабочих дней.",
    "Договор составлен в двух экземплярах, имеющих равную юридическую силу, по одному для "
    "каждой из Сторон. Документы, подписанные и переданные по электронной почте, имеют силу "
    "до обмена оригиналами.",
]


def preamble(seller_role: str, buyer_role: str, what: str) -> str:
    return ("{{ seller.intro }}, {{ seller.named }} в дальнейшем «" + seller_role + "», с одной "
            "стороны, и {{ buyer.intro }}, {{ buyer.named }} в дальнейшем «" + buyer_role +
            "», с другой стороны, вместе именуемые «Стороны», заключили настоящий " + what +
            " о нижеследующем:")


def vehicle_table(page: Page, price: bool = False) -> None:
    rows = [("Марка, модель", "{{ vehicle.make_model }}"),
            ("Идентификационный номер (VIN)", "{{ vehicle.vin }}"),
            ("Год выпуска", "{{ vehicle.year }}"), ("Цвет", "{{ vehicle.color }}"),
            ("Номер кузова", "{{ vehicle.body_number }}"),
            ("Номер двигателя", "{{ vehicle.engine_number }}"),
            ("Государственный регистрационный знак", "{{ vehicle.plate }}"),
            ("Паспорт транспортного средства", "{{ vehicle.pts }}"),
            ("Пробег, км", "{{ vehicle.mileage }}")]
    if price:
        rows.append(("Цена продажи, не ниже", "{{ vehicle.price }} {{ deal.currency_sign }}"))
    page.fields(rows, 70)


def route_cargo_table(page: Page, carrier: bool = False) -> None:
    rows = [("Грузоотправитель", "{{ route.shipper }}"),
            ("Адрес и дата погрузки", "{{ route.loading_address }}, {{ route.loading_date }}"),
            ("Грузополучатель", "{{ route.consignee }}"),
            ("Адрес и дата выгрузки",
             "{{ route.unloading_address }}, {{ route.unloading_date }}"),
            ("Наименование груза", "{{ cargo.name }}"),
            ("Вес, кг / объём, м³", "{{ cargo.weight }} / {{ cargo.volume }}"),
            ("Количество мест, упаковка", "{{ cargo.places }}, {{ cargo.packing }}"),
            ("Объявленная стоимость груза", "{{ cargo.value }}"),
            ("Тип кузова", "{{ transport.body_type }}")]
    if carrier:
        rows += [("Автомобиль / прицеп", "{{ transport.vehicle }} / {{ transport.trailer }}"),
                 ("Водитель", "{{ transport.driver }}, {{ transport.driver_document }}, "
                              "тел. {{ transport.driver_phone }}")]
    rows += [("Стоимость перевозки", "{{ deal.amount }} {{ deal.currency_sign }} "
                                     "({{ deal.amount_words }})"),
             ("НДС", "{{ totals.vat_line }}"),
             ("Условия оплаты", "безналичный расчёт в течение 10 (десяти) банковских дней "
                                "после получения оригиналов документов")]
    page.fields(rows, 62)


# the car dealer ----------------------------------------------------------------------
def buyout_contract() -> Page:
    page = Page("Договор купли-продажи (выкупа) автомобиля")
    page.title("ДОГОВОР № {{ doc.number }}", "купли-продажи (выкупа) транспортного средства")
    page.dated()
    page.text(preamble("Продавец", "Покупатель", "договор"))
    page.clauses(1, "Предмет договора", [
        "Продавец передаёт в собственность Покупателя, а Покупатель принимает и оплачивает "
        "следующее транспортное средство (далее — «Автомобиль»):"])
    vehicle_table(page)
    page.clauses(2, "Цена и порядок расчётов", [
        "Цена Автомобиля составляет {{ deal.amount }} {{ deal.currency_sign }} "
        "({{ deal.amount_words }}). НДС не облагается.",
        "Покупатель оплачивает цену в день подписания акта приёма-передачи наличными "
        "денежными средствами или переводом на счёт Продавца.",
    ])
    page.clauses(3, "Передача автомобиля", [
        "Автомобиль передаётся по акту приёма-передачи вместе с паспортом транспортного "
        "средства, свидетельством о регистрации, комплектом ключей и сервисной книжкой.",
        "Право собственности и риск случайной гибели переходят к Покупателю с момента "
        "подписания акта приёма-передачи.",
    ])
    page.clauses(4, "Гарантии продавца", [
        "Продавец гарантирует, что Автомобиль принадлежит ему на праве собственности, никому не "
        "продан, не заложен, в споре и под арестом не состоит, не находится в розыске.",
        "Продавец сообщил Покупателю обо всех известных ему недостатках Автомобиля; пробег, "
        "указанный в разделе 1, соответствует действительности.",
    ])
    page.clauses(5, "Заключительные положения", CONTRACT_TAIL)
    page.parties(("Продавец:", "seller"), ("Покупатель:", "buyer"), number=6)
    return page


def commission_contract() -> Page:
    page = Page("Договор комиссии")
    page.title("ДОГОВОР КОМИССИИ № {{ doc.number }}", "на продажу транспортного средства")
    page.dated()
    page.text(preamble("Комиссионер", "Комитент", "договор"))
    page.clauses(1, "Предмет договора", [
        "Комитент поручает, а Комиссионер обязуется за вознаграждение совершить от своего "
        "имени и за счёт Комитента сделку по продаже следующего транспортного средства "
        "(далее — «Автомобиль»):"])
    vehicle_table(page, price=True)
    page.clauses(2, "Вознаграждение комиссионера", [
        "Вознаграждение Комиссионера по настоящему договору:"])
    page.items(GOODS_VAT)
    page.totals()
    page.clauses(3, "Обязанности сторон", [
        "Комитент передаёт Комиссионеру Автомобиль, документы и ключи по акту "
        "приёма-передачи; Автомобиль остаётся собственностью Комитента до его продажи.",
        "Комиссионер обязуется продать Автомобиль по цене не ниже указанной в разделе 1, "
        "обеспечить его сохранность и по исполнении поручения представить Комитенту отчёт.",
        "Вырученные от продажи денежные средства за вычетом вознаграждения Комиссионер "
        "перечисляет Комитенту в течение 3 (трёх) банковских дней после их получения.",
    ])
    page.clauses(4, "Срок действия и расторжение", [
        "Договор действует 90 (девяносто) дней с момента подписания. Комитент вправе "
        "отменить поручение, возместив Комиссионеру понесённые расходы.",
        *CONTRACT_TAIL[1:],
    ])
    page.parties(("Комиссионер:", "seller"), ("Комитент:", "buyer"), number=5)
    return page


# the freight company -----------------------------------------------------------------
def invoice() -> Page:
    page = Page("Счёт на оплату")
    third = page.width / 6
    page.grid([
        ["{{ seller.bank.name }}", "БИК", "{{ seller.bank.bik }}"],
        ["Банк получателя", "Сч. №", "{{ seller.bank.corr_account }}"],
        ["ИНН {{ seller.inn }}    КПП {{ seller.kpp }}", "Сч. №", "{{ seller.bank.account }}"],
        ["{{ seller.name }}", "", ""],
        ["Получатель", "", ""],
    ], [third * 4, third * 0.6, third * 1.4], size=9.5)
    page.p(after=6)
    page.p("Счёт на оплату № {{ doc.number }} от {{ doc.date }}", bold=True, size=13, after=6)
    page.fields([
        ("Поставщик (Исполнитель):", "{{ seller.name }}, ИНН {{ seller.inn }}"
         "{% if seller.kpp %}, КПП {{ seller.kpp }}{% endif %}, {{ seller.legal_address }}"
         "{% if seller.phone %}, тел.: {{ seller.phone }}{% endif %}"),
        ("Покупатель (Заказчик):", "{{ buyer.name }}, ИНН {{ buyer.inn }}"
         "{% if buyer.kpp %}, КПП {{ buyer.kpp }}{% endif %}, {{ buyer.legal_address }}"),
        ("Основание:", "{{ deal.title }}"),
    ], 45)
    page.p(after=4)
    page.items(GOODS_VAT)
    page.totals()
    page.p("Оплата настоящего счёта означает согласие с условиями оказания услуг. "
           "Счёт действителен в течение 5 (пяти) банковских дней.", size=9, after=10)
    page.grid([["Руководитель", SIGN + " {{ seller.director_short }} /",
                "Бухгалтер", SIGN + " {{ seller.accountant_short }} /"]],
              [page.width * 0.17, page.width * 0.33, page.width * 0.15, page.width * 0.35],
              borders=False)
    return page


def services_act() -> Page:
    page = Page("Акт оказанных услуг")
    page.title("АКТ № {{ doc.number }} от {{ doc.date }}", "об оказании транспортно-"
               "экспедиционных услуг")
    page.fields([
        ("Исполнитель:", "{{ seller.name }}, ИНН {{ seller.inn }}"
         "{% if seller.kpp %}, КПП {{ seller.kpp }}{% endif %}, {{ seller.legal_address }}"),
        ("Заказчик:", "{{ buyer.name }}, ИНН {{ buyer.inn }}"
         "{% if buyer.kpp %}, КПП {{ buyer.kpp }}{% endif %}, {{ buyer.legal_address }}"),
        ("Маршрут:", "{{ route.loading_address }} — {{ route.unloading_address }}"),
        ("Основание:", "{{ deal.title }}"),
    ], 35)
    page.p(after=4)
    page.items(GOODS_VAT)
    page.totals()
    page.text("Вышеперечисленные услуги оказаны полностью и в срок. Заказчик претензий по "
              "объёму, качеству и срокам оказания услуг не имеет.")
    page.p(after=6)
    page.signatures(("Исполнитель:", "seller"), ("Заказчик:", "buyer"))
    return page


def consignment_note() -> Page:
    page = Page("Транспортная накладная")
    page.title("ТРАНСПОРТНАЯ НАКЛАДНАЯ № {{ doc.number }}", "от {{ doc.date }}")
    page.grid([
        ["1. Грузоотправитель", "{{ route.shipper }}"],
        ["2. Грузополучатель", "{{ route.consignee }}"],
        ["3. Наименование груза",
         "{{ cargo.name }}; мест: {{ cargo.places }}, упаковка: {{ cargo.packing }}; "
         "масса брутто {{ cargo.weight }} кг; объём {{ cargo.volume }} м³"],
        ["4. Сопроводительные документы на груз", "______________________________"],
        ["5. Указания грузоотправителя", "Объявленная стоимость груза: {{ cargo.value }}"],
        ["6. Приём груза", "{{ route.loading_address }}; {{ route.loading_date }}"],
        ["7. Сдача груза", "{{ route.unloading_address }}; {{ route.unloading_date }}"],
        ["8. Условия перевозки", "Тип кузова: {{ transport.body_type }}"],
        ["9. Информация о принятии заказа (заявки) к исполнению",
         "Заказ принят {{ doc.date }}, {{ seller.name }}"],
        ["10. Перевозчик", "{{ transport.carrier }}"],
        ["11. Транспортное средство",
         "{{ transport.vehicle }}; прицеп {{ transport.trailer }}"],
        ["12. Водитель", "{{ transport.driver }}, {{ transport.driver_document }}, "
                         "тел. {{ transport.driver_phone }}"],
        ["13. Стоимость услуг перевозчика",
         "{{ deal.amount }} {{ deal.currency_sign }} ({{ deal.amount_words }})"],
        ["14. Заказчик (плательщик)",
         "{{ buyer.name }}, ИНН {{ buyer.inn }}, {{ buyer.legal_address }}"],
    ], [62, page.width - 62], bold_first=True)
    page.p(after=8)
    page.grid([
        ["Груз сдал (грузоотправитель)", "Груз принял (водитель)", "Груз получил "
         "(грузополучатель)"],
        ["_________ / _________ /", "_________ / {{ transport.driver }} /",
         "_________ / _________ /"],
    ], [page.width / 3] * 3, borders=False)
    return page


def waybill() -> Page:
    page = Page("Товарно-транспортная накладная", landscape=True)
    page.title("ТОВАРНО-ТРАНСПОРТНАЯ НАКЛАДНАЯ № {{ doc.number }}", "от {{ doc.date }}")
    page.fields([
        ("Грузоотправитель", "{{ route.shipper }}"),
        ("Грузополучатель", "{{ route.consignee }}"),
        ("Плательщик", "{{ buyer.name }}, ИНН {{ buyer.inn }}, {{ buyer.legal_address }}"
                       "{% if buyer.bank.account %}, р/с {{ buyer.bank.account }} в "
                       "{{ buyer.bank.name }}, БИК {{ buyer.bank.bik }}{% endif %}"),
    ], 50)
    page.p("I. ТОВАРНЫЙ РАЗДЕЛ", bold=True, align="center", before=6, after=3)
    page.items(GOODS_VAT)
    page.totals(words=False)
    page.p("Всего отпущено наименований: {{ totals.count }} ({{ totals.count_words }}), на "
           "сумму {{ totals.gross_words }}", before=2, after=2)
    page.p("Масса груза брутто: {{ cargo.weight }} кг; мест: {{ cargo.places }}", after=4)
    page.p("II. ТРАНСПОРТНЫЙ РАЗДЕЛ", bold=True, align="center", before=6, after=3)
    page.fields([
        ("Организация-перевозчик", "{{ transport.carrier }}"),
        ("Автомобиль / прицеп", "{{ transport.vehicle }} / {{ transport.trailer }}"),
        ("Водитель", "{{ transport.driver }}, {{ transport.driver_document }}"),
        ("Пункт погрузки", "{{ route.loading_address }}, {{ route.loading_date }}"),
        ("Пункт разгрузки", "{{ route.unloading_address }}, {{ route.unloading_date }}"),
        ("Заказчик перевозки", "{{ seller.name }}"),
    ], 60)
    page.p(after=8)
    page.grid([
        ["Отпуск груза разрешил", "Груз к перевозке принял", "Груз получил"],
        ["_________ / _________ /", "_________ / {{ transport.driver }} /",
         "_________ / _________ /"],
        ["М. П.", "", "М. П."],
    ], [page.width / 3] * 3, borders=False)
    return page


def vat_invoice() -> Page:
    page = Page("Счёт-фактура", landscape=True)
    page.p("Приложение № 1 к постановлению Правительства Российской Федерации от 26 декабря "
           "2011 г. № 1137", align="right", size=8, after=4)
    page.p("СЧЁТ-ФАКТУРА № {{ doc.number }} от {{ doc.date }} (1)", bold=True, size=12)
    page.p("ИСПРАВЛЕНИЕ № — от — (1а)", after=4)
    for label, value in (
            ("Продавец", "{{ seller.full_name }} (2)"),
            ("Адрес", "{{ seller.legal_address }} (2а)"),
            ("ИНН/КПП продавца", "{{ seller.inn }}/{{ seller.kpp }} (2б)"),
            ("Грузоотправитель и его адрес", "{{ route.shipper or 'он же' }} (3)"),
            ("Грузополучатель и его адрес", "{{ route.consignee or buyer.name }} (4)"),
            ("К платёжно-расчётному документу", "№ ____ от ____ (5)"),
            ("Документ об отгрузке", "№ п/п 1–{{ totals.count }} № {{ doc.number }} от "
                                     "{{ doc.date_short }} (5а)"),
            ("Покупатель", "{{ buyer.full_name }} (6)"),
            ("Адрес", "{{ buyer.legal_address }} (6а)"),
            ("ИНН/КПП покупателя", "{{ buyer.inn }}/{{ buyer.kpp }} (6б)"),
            ("Валюта: наименование, код", "Российский рубль, 643 (7)"),
            ("Идентификатор государственного контракта, договора (соглашения)", "— (8)")):
        page.rich([(f"{label}: ", False), (value, False)])
    page.p(after=4)
    columns = (
        Column("№ п/п", "{{ it.n }}", 8, "center"),
        Column("Наименование товара (описание выполненных работ, оказанных услуг)",
               "{{ it.name }}", 62),
        Column("Ед. изм. код", "{{ it.unit_code }}", 12, "center"),
        Column("Ед. изм. обозн.", "{{ it.unit }}", 12, "center"),
        Column("Количество", "{{ it.quantity }}", 16, "right"),
        Column("Цена за единицу", "{{ it.price_net }}", 22, "right"),
        Column("Стоимость без налога", "{{ it.net }}", 24, "right"),
        Column("В том числе акциз", "без акциза", 14, "center"),
        Column("Налоговая ставка", "{{ it.vat_rate }}", 14, "center"),
        Column("Сумма налога", "{{ it.vat }}", 22, "right"),
        Column("Стоимость с налогом", "{{ it.total }}", 24, "right"),
    )
    page.items(columns, size=8.5)
    scale = page.width / sum(c.width for c in columns)  # the total row under the columns
    w = [c.width * scale for c in columns]
    page.grid([["Всего к оплате (9)", "{{ totals.net }}", "X",
                "{{ totals.vat or 'без НДС' }}", "{{ totals.gross }}"]],
              [sum(w[:6]), w[6], w[7] + w[8], w[9], w[10]],
              bold_first=True, size=8.5, aligns=("left", "right", "center", "right", "right"))
    page.p(after=10)
    page.grid([["Руководитель организации или иное уполномоченное лицо",
                SIGN + " {{ seller.director_short }} /",
                "Главный бухгалтер или иное уполномоченное лицо",
                SIGN + " {{ seller.accountant_short }} /"]],
              [page.width * 0.22, page.width * 0.28, page.width * 0.22, page.width * 0.28],
              borders=False, size=9)
    return page


def forwarding_contract() -> Page:
    page = Page("Договор транспортной экспедиции")
    page.title("ДОГОВОР № {{ doc.number }}",
               "на оказание транспортно-экспедиционных услуг")
    page.dated()
    page.text(preamble("Экспедитор", "Клиент", "договор"))
    page.clauses(1, "Предмет договора", [
        "Экспедитор обязуется за вознаграждение и за счёт Клиента организовать перевозку "
        "грузов Клиента автомобильным транспортом и оказать связанные с ней услуги, а Клиент "
        "обязуется оплатить их.",
        "Условия каждой перевозки (маршрут, груз, сроки, стоимость) Стороны согласуют в "
        "заявке, которая с момента подписания является неотъемлемой частью договора.",
    ])
    page.clauses(2, "Обязанности сторон", [
        "Экспедитор подаёт исправное транспортное средство в согласованные место и время, "
        "обеспечивает доставку груза грузополучателю и информирует Клиента о ходе перевозки.",
        "Клиент предоставляет груз в надлежащей упаковке, сопроводительные документы и "
        "достоверные сведения о свойствах груза, обеспечивает погрузку и выгрузку не более "
        "4 (четырёх) часов каждая.",
    ])
    page.clauses(3, "Стоимость услуг и порядок расчётов", [
        "Стоимость услуг по первой заявке составляет:"])
    page.items(GOODS_VAT)
    page.totals()
    page.text("Оплата производится безналичным переводом в течение 10 (десяти) банковских дней "
              "с даты получения Клиентом счёта, акта оказанных услуг и, если Экспедитор "
              "является плательщиком НДС, счёта-фактуры.")
    page.clauses(4, "Ответственность сторон", [
        "Экспедитор отвечает за утрату, недостачу или повреждение груза с момента его "
        "принятия до выдачи грузополучателю в размере объявленной стоимости груза.",
        "За просрочку оплаты Клиент уплачивает пеню 0,1 % от неоплаченной суммы за каждый "
        "день просрочки, но не более 10 % этой суммы.",
    ])
    page.clauses(5, "Заключительные положения", CONTRACT_TAIL)
    page.parties(("Экспедитор:", "seller"), ("Клиент:", "buyer"), number=6)
    return page


def transport_request() -> Page:
    page = Page("Заявка на перевозку груза")
    page.title("ЗАЯВКА № {{ doc.number }} от {{ doc.date }}", "на перевозку груза")
    page.text("Заказчик {{ buyer.name }} просит Исполнителя {{ seller.name }} организовать "
              "перевозку груза на следующих условиях:")
    route_cargo_table(page)
    page.p(after=4)
    page.text("Исполнитель подтверждает принятие заявки к исполнению подписанием настоящей "
              "заявки. Простой автомобиля сверх 4 (четырёх) часов на погрузке или выгрузке "
              "оплачивается Заказчиком дополнительно.")
    page.parties(("Исполнитель:", "seller"), ("Заказчик:", "buyer"))
    return page


def carrier_contract() -> Page:
    page = Page("Договор перевозки груза")
    page.title("ДОГОВОР № {{ doc.number }}", "на перевозку грузов автомобильным транспортом")
    page.dated()
    page.text(preamble("Перевозчик", "Заказчик", "договор"))
    page.clauses(1, "Предмет договора", [
        "Перевозчик обязуется доставить вверенный ему Заказчиком груз в пункт назначения и "
        "выдать его грузополучателю, а Заказчик обязуется уплатить провозную плату.",
        "Каждая перевозка выполняется по заявке Заказчика, в которой указываются маршрут, "
        "груз, транспортное средство, водитель, сроки и стоимость перевозки.",
    ])
    page.clauses(2, "Обязанности перевозчика", [
        "Подавать под погрузку исправное транспортное средство, пригодное для перевозки "
        "груза, с водителем, имеющим документы на право управления и доверенность.",
        "Обеспечить сохранность груза с момента принятия до выдачи грузополучателю, "
        "незамедлительно сообщать Заказчику о задержках и происшествиях в пути.",
        "Не передавать исполнение перевозки третьим лицам без письменного согласия Заказчика.",
    ])
    page.clauses(3, "Провозная плата", [
        "Стоимость перевозки указывается в заявке. Оплата производится в течение 10 "
        "(десяти) банковских дней после получения оригиналов транспортной накладной с "
        "отметкой грузополучателя, счёта и акта.",
    ])
    page.clauses(4, "Ответственность сторон", [
        "Перевозчик возмещает ущерб за утрату, недостачу или повреждение груза в размере "
        "его стоимости (статья 796 ГК РФ, статья 34 Устава автомобильного транспорта).",
        "За опоздание подачи транспортного средства Перевозчик уплачивает штраф 20 % "
        "провозной платы; за отказ от согласованной заявки менее чем за 24 часа — 20 % "
        "провозной платы.",
    ])
    page.clauses(5, "Заключительные положения", CONTRACT_TAIL)
    page.parties(("Перевозчик:", "seller"), ("Заказчик:", "buyer"), number=6)
    return page


def carrier_request() -> Page:
    page = Page("Заявка перевозчику")
    page.title("ЗАЯВКА № {{ doc.number }} от {{ doc.date }}", "на перевозку груза "
               "(к договору с перевозчиком)")
    page.text("Заказчик {{ buyer.name }} поручает Перевозчику {{ seller.name }} выполнить "
              "перевозку груза на следующих условиях:")
    route_cargo_table(page, carrier=True)
    page.p(after=4)
    page.text("Перевозчик подтверждает, что транспортное средство и водитель соответствуют "
              "требованиям перевозки, а груз будет доставлен в указанный срок. Заявка "
              "считается принятой с момента её подписания Перевозчиком.")
    page.parties(("Перевозчик:", "seller"), ("Заказчик:", "buyer"))
    return page


def _contract_request(title: str, seller_role: str, buyer_role: str, carrier: bool) -> Page:
    page = Page(title)
    page.title("ДОГОВОР-ЗАЯВКА № {{ doc.number }}", "на перевозку груза автомобильным "
               "транспортом")
    page.dated()
    page.text(preamble(seller_role, buyer_role, "договор-заявку"))
    page.clauses(1, "Условия перевозки", [
        f"{seller_role} обязуется выполнить (организовать) перевозку груза, а {buyer_role} — "
        "оплатить её на следующих условиях:"])
    route_cargo_table(page, carrier=carrier)
    page.clauses(2, "Обязанности и ответственность сторон", [
        f"{seller_role} подаёт исправное транспортное средство в указанные место и время, "
        "обеспечивает сохранность груза и его доставку в срок.",
        f"{buyer_role} обеспечивает готовность груза, погрузку и выгрузку в течение 4 "
        "(четырёх) часов; сверхнормативный простой оплачивается по 1 000 рублей за час.",
        f"{seller_role} отвечает за утрату, недостачу или повреждение груза в размере его "
        "объявленной стоимости.",
        "Договор-заявка вступает в силу с момента подписания и действует до исполнения "
        "обязательств; копии, переданные по электронной почте, имеют силу оригинала.",
    ])
    page.parties((f"{seller_role}:", "seller"), (f"{buyer_role}:", "buyer"), number=3)
    return page


def customer_contract_request() -> Page:
    return _contract_request("Договор-заявка с заказчиком", "Исполнитель", "Заказчик", False)


def carrier_contract_request() -> Page:
    return _contract_request("Договор-заявка с перевозчиком", "Перевозчик", "Заказчик", True)


# the repair shop ---------------------------------------------------------------------
def _repair_head(page: Page) -> None:
    page.fields([
        ("Исполнитель", "{{ seller.name }}, ИНН {{ seller.inn }}, {{ seller.legal_address }}"
                        "{% if seller.phone %}, тел. {{ seller.phone }}{% endif %}"),
        ("Заказчик", "{{ buyer.name }}{% if buyer.phone %}, тел. {{ buyer.phone }}"
                     "{% endif %}"),
        ("Автомобиль", "{{ vehicle.make_model }}, {{ vehicle.year }} г. в., цвет "
                       "{{ vehicle.color }}"),
        ("VIN / гос. номер", "{{ vehicle.vin }} / {{ vehicle.plate }}"),
        ("Пробег, км", "{{ vehicle.mileage }}"),
    ], 45)
    page.p(after=4)


def inspection_act() -> Page:
    page = Page("Акт осмотра транспортного средства")
    page.title("АКТ ОСМОТРА ТРАНСПОРТНОГО СРЕДСТВА № {{ doc.number }}", "от {{ doc.date }}")
    _repair_head(page)
    page.fields([
        ("Причина обращения", "{{ repair.complaint }}"),
        ("Результаты осмотра, выявленные неисправности и повреждения", "{{ repair.findings }}"),
        ("Рекомендации", "{{ repair.recommendations }}"),
    ], 55)
    page.p(after=4)
    page.when("items")
    page.p("Предварительный перечень работ и запасных частей:", bold=True, after=3)
    page.end()
    page.items(GOODS)
    page.when("items")
    page.p("Предварительная стоимость: {{ totals.gross }} {{ deal.currency_sign }} "
           "({{ totals.gross_words }})", before=3)
    page.end()
    page.text("Осмотр проведён в присутствии Заказчика. Заказчик с результатами осмотра "
              "ознакомлен и согласен; личные вещи из автомобиля изъяты. Скрытые неисправности, "
              "выявленные при разборке, согласовываются с Заказчиком дополнительно.")
    page.p(after=6)
    page.signatures(("Осмотр провёл (Исполнитель):", "seller"), ("Заказчик:", "buyer"))
    return page


def work_order() -> Page:
    page = Page("Заказ-наряд")
    page.title("ЗАКАЗ-НАРЯД № {{ doc.number }} от {{ doc.date }}", "на выполнение работ по "
               "техническому обслуживанию и ремонту автомобиля")
    _repair_head(page)
    page.fields([
        ("Причина обращения", "{{ repair.complaint }}"),
        ("Автомобиль принят", "{{ repair.accepted }}"),
        ("Плановая дата выдачи", "{{ repair.ready }}"),
    ], 55)
    page.p(after=4)
    page.items(WORKS_DISCOUNT, size=9)
    page.totals(discount=True)
    page.text("Заказчик согласен с перечнем и стоимостью работ. Работы, не указанные в "
              "заказ-наряде, выполняются только с согласия Заказчика. Гарантия: "
              "{{ repair.warranty }}. Замененные запасные части возвращаются Заказчику по его "
              "требованию.")
    page.p(after=6)
    page.signatures(("Мастер-приёмщик (Исполнитель):", "seller"), ("Заказчик:", "buyer"))
    return page


def completion_act() -> Page:
    page = Page("Акт выполненных работ")
    page.title("АКТ ВЫПОЛНЕННЫХ РАБОТ № {{ doc.number }} от {{ doc.date }}",
               "по заказ-наряду на ремонт автомобиля")
    _repair_head(page)
    page.items(WORKS_DISCOUNT, size=9)
    page.totals(discount=True)
    page.text("Работы выполнены в полном объёме, качественно и в срок. Автомобиль, "
              "замененные детали и документы Заказчиком получены; претензий по объёму, "
              "качеству и срокам работ Заказчик не имеет. Гарантия: {{ repair.warranty }}.")
    page.p(after=6)
    page.signatures(("Исполнитель:", "seller"), ("Заказчик:", "buyer"))
    return page


MAKERS: dict[str, Callable[[], Page]] = {
    "buyout_contract": buyout_contract, "commission_contract": commission_contract,
    "invoice": invoice, "services_act": services_act, "consignment_note": consignment_note,
    "waybill": waybill, "vat_invoice": vat_invoice,
    "forwarding_contract": forwarding_contract, "transport_request": transport_request,
    "carrier_contract": carrier_contract, "carrier_request": carrier_request,
    "customer_contract_request": customer_contract_request,
    "carrier_contract_request": carrier_contract_request,
    "inspection_act": inspection_act, "work_order": work_order,
    "completion_act": completion_act,
}


def build(folder: Path = TEMPLATES) -> list[Path]:
    """Write every shipped template into `folder`; the paths written."""
    written = []
    for kind in KINDS:
        path = folder / kind.file
        MAKERS[kind.code]().save(path)
        written.append(path)
    return written


if __name__ == "__main__":
    for written in build(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATES):
        print(written)
