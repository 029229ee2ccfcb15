"""Word lists behind the sandbox's generated data: countries, people, companies.

Plain data, no logic. Non-ASCII text is deliberate: the pipeline must carry it unchanged.
"""

from __future__ import annotations

from typing import NamedTuple


class Country(NamedTuple):
    """What the generator needs to write a plausible address and contact in one country."""

    code: str
    language: str
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    surnames: tuple[str, ...]
    first_names: tuple[str, ...]
    legal_forms: tuple[str, ...]
    phone_prefix: str
    postal_digits: int
    regions: tuple[str, ...] = ()


COUNTRIES: tuple[Country, ...] = (
    Country(
        "DE",
        "de",
        ("München", "Köln", "Düsseldorf", "Nürnberg", "Görlitz", "Lübeck", "Berlin", "Hamburg"),
        ("Hauptstraße", "Bahnhofstraße", "Schloßallee", "Mühlenweg", "Große Straße", "Gartenstr."),
        ("Müller", "Schäfer", "Weiß", "Groß", "Köhler", "Schröder", "Wagner", "Fuchs", "Krüger"),
        ("Jürgen", "Björn", "Anja", "Sören", "Käthe", "Lukas", "Jörg", "Maximilian"),
        ("GmbH", "AG", "GmbH & Co. KG", "e.K.", "UG (haftungsbeschränkt)"),
        "+49",
        5,
    ),
    Country(
        "AT",
        "de",
        ("Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt am Wörthersee"),
        ("Mariahilfer Straße", "Landstraßer Hauptstraße", "Grabengasse", "Türkenstraße"),
        ("Gruber", "Huber", "Bauer", "Pölzl", "Hölzl", "Wimmer", "Brandstätter"),
        ("Lena", "Florian", "Theresa", "Günther", "Österreicher", "Valentina"),
        ("GmbH", "AG", "OG", "KG"),
        "+43",
        4,
    ),
    Country(
        "CH",
        "de",
        ("Zürich", "Genève", "Basel", "Lausanne", "Bern", "St. Gallen", "Neuchâtel"),
        ("Bahnhofstrasse", "Rue du Rhône", "Seefeldstrasse", "Avenue de la Gare"),
        ("Meier", "Schmid", "Keller", "Favre", "Rochat", "Brunner", "Zürcher"),
        ("Urs", "Reto", "Corinne", "Noël", "Béatrice", "Matthias"),
        ("AG", "GmbH", "SA", "Sàrl"),
        "+41",
        4,
    ),
    Country(
        "FR",
        "fr",
        ("Paris", "Lyon", "Besançon", "Nîmes", "Orléans", "Saint-Étienne", "Angoulême"),
        ("Rue de la République", "Boulevard Haussmann", "Allée des Châtaigniers", "Quai d'Orsay"),
        ("Lefèvre", "Dubois", "Bénard", "Girard", "Mercier", "Fontaine", "Chevalier", "Lemaître"),
        ("Amélie", "Hélène", "François", "Jérôme", "Zoé", "Gaëlle", "Benoît", "Noémie"),
        ("SARL", "SAS", "SA", "EURL"),
        "+33",
        5,
    ),
    Country(
        "PL",
        "pl",
        ("Łódź", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Białystok", "Świnoujście"),
        ("ul. Świętokrzyska", "ul. Długa", "al. Jerozolimskie", "ul. Żeromskiego"),
        ("Nowak", "Wiśniewski", "Wójcik", "Kowalczyk", "Łukasiewicz", "Zieliński", "Dąbrowski"),
        ("Łukasz", "Małgorzata", "Paweł", "Zofia", "Wojciech", "Agnieszka", "Jędrzej"),
        ("Sp. z o.o.", "S.A.", "Sp.j."),
        "+48",
        5,
    ),
    Country(
        "NO",
        "nb",
        ("Oslo", "Bergen", "Tromsø", "Trondheim", "Bodø", "Ålesund", "Stavanger"),
        ("Karl Johans gate", "Storgata", "Kongens gate", "Bryggen", "Sjøgata"),
        ("Hansen", "Johansen", "Økland", "Sæther", "Bråthen", "Haugen", "Lien"),
        ("Øystein", "Ingrid", "Bjørn", "Solveig", "Håkon", "Astrid", "Ørjan"),
        ("AS", "ASA", "ANS"),
        "+47",
        4,
    ),
    Country(
        "DK",
        "en",
        ("København", "Aarhus", "Odense", "Aalborg", "Næstved", "Køge"),
        ("Strøget", "Nørregade", "Østerbrogade", "Vesterbrogade"),
        ("Jørgensen", "Sørensen", "Nielsen", "Mølgaard", "Kjær", "Pedersen"),
        ("Søren", "Mette", "Jens", "Birgitte", "Anders", "Signe"),
        ("ApS", "A/S", "I/S"),
        "+45",
        4,
    ),
    Country(
        "ES",
        "es",
        ("Madrid", "A Coruña", "Logroño", "Málaga", "Cádiz", "Córdoba", "León"),
        ("Calle de Alcalá", "Avenida de España", "Calle Mayor", "Paseo de la Castellana"),
        ("García", "Muñoz", "Martínez", "Núñez", "Sánchez", "Peña", "Ibáñez", "Gómez"),
        ("José", "María", "Begoña", "Íñigo", "Ángel", "Lucía", "Adrián"),
        ("S.L.", "S.A.", "S.L.U.", "S.Coop."),
        "+34",
        5,
    ),
    Country(
        "NL",
        "nl",
        ("Amsterdam", "Rotterdam", "'s-Hertogenbosch", "Utrecht", "Den Haag", "Zwolle"),
        ("Keizersgracht", "Damrak", "Coolsingel", "Oudegracht", "Lange Voorhout"),
        ("de Vries", "van den Berg", "Jansen", "Bakker", "van Dijk", "Visser", "Smit"),
        ("Sanne", "Daan", "Femke", "Thijs", "Anouk", "Joëlle"),
        ("B.V.", "N.V.", "V.O.F."),
        "+31",
        4,
    ),
    Country(
        "IT",
        "it",
        ("Milano", "Torino", "Cantù", "Forlì", "Napoli", "Bologna", "Firenze"),
        ("Via Roma", "Corso Vittorio Emanuele II", "Via dell'Università", "Piazza Duomo"),
        ("Rossi", "Bianchi", "Ferrari", "Esposito", "Colombo", "Niccolò", "Russo"),
        ("Niccolò", "Giulia", "Lorenzo", "Chiara", "Andrea", "Francesca"),
        ("S.r.l.", "S.p.A.", "S.n.c."),
        "+39",
        5,
        ("MI", "TO", "CO", "FC", "NA", "BO", "FI"),
    ),
    Country(
        "GB",
        "en",
        ("London", "Manchester", "Edinburgh", "Cardiff", "Bristol", "Leeds"),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"),
        ("Smith", "O'Brien", "Taylor", "Davies", "Evans", "Wilson", "Thompson"),
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Siobhán"),
        ("Ltd", "PLC", "LLP"),
        "+44",
        0,
    ),
    Country(
        "US",
        "en",
        ("New York", "San José", "Chicago", "Austin", "Seattle", "Boston", "Denver"),
        ("Main Street", "Broadway", "Market Street", "5th Avenue", "Elm Street"),
        ("Johnson", "Williams", "Brown", "Miller", "Davis", "Rodríguez", "Nguyen"),
        ("James", "Emma", "Michael", "Olivia", "Zoë", "Daniel"),
        ("Inc.", "LLC", "Corp."),
        "+1",
        5,
        ("US-NY", "US-CA", "US-IL", "US-TX", "US-WA", "US-MA", "US-CO"),
    ),
    Country(
        "JP",
        "en",
        ("東京", "大阪", "京都", "名古屋", "札幌", "福岡"),
        ("銀座", "中央通り", "本町", "栄町"),
        ("佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤"),
        ("太郎", "花子", "健一", "美咲", "翔太"),
        ("株式会社", "合同会社"),
        "+81",
        7,
    ),
    Country(
        "CN",
        "en",
        ("北京", "上海", "深圳", "广州", "杭州", "成都"),
        ("南京路", "长安街", "中山路", "人民路"),
        ("王", "李", "张", "刘", "陈", "杨"),
        ("伟", "芳", "娜", "敏", "静", "强"),
        ("有限公司", "股份有限公司"),
        "+86",
        6,
    ),
    Country(
        "SE",
        "en",
        ("Stockholm", "Göteborg", "Malmö", "Umeå", "Jönköping", "Västerås"),
        ("Drottninggatan", "Storgatan", "Kungsgatan", "Östra Hamngatan"),
        ("Andersson", "Öberg", "Åkesson", "Lindqvist", "Ström", "Björklund"),
        ("Åsa", "Björn", "Märta", "Göran", "Linnéa", "Sören"),
        ("AB", "HB"),
        "+46",
        5,
    ),
    Country(
        "CZ",
        "en",
        ("Praha", "Brno", "Plzeň", "České Budějovice", "Ústí nad Labem"),
        ("Václavské náměstí", "Národní třída", "Křižíkova", "Palackého"),
        ("Novák", "Dvořák", "Černý", "Procházka", "Kučera", "Růžička"),
        ("Jiří", "Tomáš", "Kateřina", "Lukáš", "Šárka", "Zdeněk"),
        ("s.r.o.", "a.s.", "v.o.s."),
        "+420",
        5,
    ),
)

# Share (percent) of customers per country, in COUNTRIES order: a European equipment
# supplier's book is mostly German-speaking, with a long tail (CJK text included).
COUNTRY_WEIGHTS: tuple[int, ...] = (28, 8, 8, 10, 7, 3, 3, 5, 6, 6, 5, 2, 1, 1, 3, 4)
ATTENTION: dict[str, str] = {"de": "z. Hd.", "fr": "À l'attention de", "es": "A la atención de"}

# Trade words that make company names look like a supplier's customer list (construction,
# events, facility management: the businesses that rent equipment).
TRADES: tuple[str, ...] = (
    "Bau",
    "Gerüstbau",
    "Tiefbau",
    "Construction",
    "Events",
    "Logistik",
    "Transport",
    "Facility Services",
    "Messebau",
    "Veranstaltungstechnik",
    "Bâtiment",
    "Construcciones",
    "Budownictwo",
    "Entreprenør",
    "Bouw",
    "Costruzioni",
    "Haustechnik",
    "Elektro",
    "Landscaping",
    "Dachdeckerei",
    "Zimmerei",
    "Malerbetrieb",
    "Rental",
    "Engineering",
    "Infrastruktur",
    "Montage",
    "Sanitär",
    "Abbruch",
    "Stahlbau",
    "Holzbau",
)

QUALIFIERS: tuple[str, ...] = (
    "Nord",
    "Süd",
    "Ost",
    "West",
    "Alpen",
    "Rhein",
    "Élite",
    "Prime",
    "Atlantic",
    "Baltic",
    "Pro",
    "Union",
    "Global",
    "Regional",
    "Zentral",
    "Øresund",
)

DESCRIPTIONS: tuple[str, ...] = (
    "Key account since the trade fair.",
    "Rents scaffolding for large sites; prefers weekly invoices.",
    "Großkunde, Abrechnung monatlich.",
    "Client fidèle, livraison sur chantier.",
    "Klient strategiczny – dostawy na budowę.",  # noqa: RUF001
    "Cliente habitual, pago a 30 días.",
    "Seasonal customer (summer events).",
    "長期契約の顧客。",
    "Nøkkelkunde i region vest.",
)

CUSTOM_ATTRIBUTE_VALUES: tuple[tuple[str, ...], ...] = (
    ("A", "B", "C", "Premium", "Standard"),
    ("Region Nord", "Région Sud", "Zentrale", "Filiale"),
    ("SAP-100234", "SAP-200917", "Debitor 4711", "CRM-Ø-12"),
)

METADATA_KEYS: tuple[str, ...] = (
    "erpCustomerId",
    "crmSegment",
    "paymentTerms",
    "preferredDepot",
    "creditLimit",
    "vatId",
    "salesRegion",
    "onboardingStatus",
    "lastAuditNote",
)

METADATA_VALUES: tuple[str, ...] = (
    "NET30",
    "NET60",
    "Depot München-Süd",
    "Dépôt Lyon",
    "25000",
    "DE123456789",
    "Øst",
    "completed",
    "pending – docs missing",  # noqa: RUF001
    "信用良好",
    "",
)

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")
