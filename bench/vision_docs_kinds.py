"""Paper documents for bench/vision_docs_data.py: invoices, receipts, forms; and the page
they are drawn on (fonts, rows of text, the ground truth they leave behind).

A renderer is `render(rng, width, family) -> Drawn`: the page (RGB, clean, upright), its text
in reading order (one line per printed row, a row's cells joined by a space) and 1-3 questions
whose answers are printed on it, verbatim. Everything it picks comes from `rng`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
BLACK: RGB = (20, 20, 20)
GREY: RGB = (110, 110, 110)
WHITE: RGB = (255, 255, 255)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# family -> (regular, bold) file in DEJAVU; "default" is Pillow's bundled font, always there
FAMILIES = {"default": ("", ""), "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
            "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
            "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")}
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answers: tuple[str, ...]


@dataclass(slots=True)
class Drawn:
    image: Image.Image
    text: str
    questions: list[Question]


def font_file(family: str, bold: bool = False) -> Path | None:
    """The DejaVu file for `family`, or None where it is missing (then Pillow's default)."""
    name = FAMILIES[family][bold]
    path = DEJAVU / name if name else None
    return path if path and path.is_file() else None


def font_used(family: str) -> str:
    path = font_file(family)
    return path.name if path else "pillow-default"


@cache
def font(family: str, size: int, bold: bool = False) -> Font:
    path = font_file(family, bold)
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)


@dataclass(eq=False)
class Page:
    """A canvas drawn top to bottom; every row of text is recorded as one ground-truth line."""

    width: int
    family: str
    bg: RGB = WHITE
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", (self.width, self.width * 3), self.bg)
        self.draw = ImageDraw.Draw(self.image)
        self.y = self.px(0.05)

    def px(self, fraction: float) -> int:
        return round(self.width * fraction)

    def size(self, fraction: float) -> int:
        return max(14, self.px(fraction))

    def row(self, cells: Sequence[tuple[float, str, str]], fraction: float = 0.024,
            fill: RGB = BLACK, bold: bool = False, gap: float = 0.55,
            family: str | None = None) -> int:
        """Cells (x as a fraction of the width, text, "l"/"r"/"m" alignment) on one line."""
        size = self.size(fraction)
        f = font(family or self.family, size, bold)
        top = self.y
        for x, text, align in cells:
            self.draw.text((self.px(x), top), text, font=f, fill=fill, anchor=align + "a")
        self.lines.append(" ".join(text for _, text, _ in cells))
        self.y += round(size * (1 + gap))
        return top

    def rule(self, x0: float = 0.06, x1: float = 0.94, fill: RGB = GREY, gap: float = 0.015,
             width: int = 1) -> None:
        self.draw.line((self.px(x0), self.y, self.px(x1), self.y), fill=fill, width=width)
        self.y += self.px(gap)

    def skip(self, fraction: float) -> None:
        self.y += self.px(fraction)

    def done(self, questions: list[Question]) -> Drawn:
        image = self.image.crop((0, 0, self.width, self.y + self.px(0.05)))
        return Drawn(image, "\n".join(self.lines), questions)


# --- made-up content ----------------------------------------------------------------------

COMPANIES = ["Northwind Traders", "Blue Harbor Supply", "Acme Tooling Ltd", "Greenleaf Catering",
             "Summit Office Goods", "Riverside Print Co", "Atlas Freight", "Maple Oak Interiors"]
PEOPLE = ["Maria Lopez", "James Carter", "Aiko Tanaka", "Omar Haddad", "Sofia Rossi",
          "Liam Walsh", "Chen Wei", "Grace Mbeki", "Noah Fischer", "Priya Nair"]
ITEMS = ["Printer paper A4", "Ink cartridge", "Desk lamp", "USB-C cable", "Office chair",
         "Whiteboard markers", "Consulting hours", "Delivery fee", "Monitor stand",
         "Label printer", "Coffee beans 1kg", "Stapler"]
GROCERIES = ["Milk 1L", "Sourdough bread", "Bananas", "Cheddar cheese", "Eggs x12", "Olive oil",
             "Tomatoes", "Greek yogurt", "Pasta 500g", "Orange juice", "Rice 2kg", "Apples"]
CITIES = ["Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown", "Ashford"]
STREETS = ["Elm Street", "Harbor Road", "Station Avenue", "Mill Lane", "King Street", "Park Row"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def a_date(rng: random.Random) -> date:
    return date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))


def show_date(d: date, style: int) -> str:
    return [d.isoformat(), f"{d.day:02d}/{d.month:02d}/{d.year}",
            f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
            f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"][style % 4]


def money(cents: int, sign: str = "$") -> str:
    return f"{sign}{cents // 100:,}.{cents % 100:02d}"


def address(rng: random.Random) -> str:
    return f"{rng.randint(2, 980)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"


def ask(rng: random.Random, pool: list[Question], n: int) -> list[Question]:
    return rng.sample(pool, k=min(n, len(pool)))


# --- the kinds ----------------------------------------------------------------------------

def invoice(rng: random.Random, width: int, family: str) -> Drawn:
    p = Page(width, family)
    company, client = rng.choice(COMPANIES), rng.choice(PEOPLE)
    number = f"INV-{rng.randint(2023, 2025)}-{rng.randint(100, 9999):04d}"
    issued = a_date(rng)
    style = rng.randrange(4)
    when, due = show_date(issued, style), show_date(issued + timedelta(days=30), style)
    p.row([(0.06, company, "l")], 0.04, bold=True)
    p.row([(0.06, address(rng), "l")], 0.02, fill=GREY)
    p.skip(0.02)
    p.row([(0.06, "INVOICE", "l")], 0.035, bold=True)
    p.row([(0.06, "Invoice No:", "l"), (0.36, number, "l")])
    p.row([(0.06, "Date:", "l"), (0.36, when, "l")])
    p.row([(0.06, "Due Date:", "l"), (0.36, due, "l")])
    p.row([(0.06, "Bill To:", "l"), (0.36, client, "l")])
    p.skip(0.02)
    p.row([(0.06, "Description", "l"), (0.58, "Qty", "r"), (0.76, "Unit", "r"),
           (0.94, "Amount", "r")], bold=True)
    p.rule()
    subtotal = 0
    for item in rng.sample(ITEMS, k=rng.randint(2, 5)):
        qty, unit = rng.randint(1, 12), rng.randint(150, 25000)
        subtotal += qty * unit
        p.row([(0.06, item, "l"), (0.58, str(qty), "r"), (0.76, money(unit), "r"),
               (0.94, money(qty * unit), "r")])
    p.rule()
    rate = rng.choice([5, 8, 10, 20])
    tax = subtotal * rate // 100
    total = subtotal + tax
    p.row([(0.56, "Subtotal", "l"), (0.94, money(subtotal), "r")])
    p.row([(0.56, f"Tax ({rate}%)", "l"), (0.94, money(tax), "r")])
    p.row([(0.56, "Total Due", "l"), (0.94, money(total), "r")], bold=True)
    p.skip(0.02)
    p.row([(0.06, "Thank you for your business.", "l")], 0.02, fill=GREY)
    pool = [Question("What is the invoice number?", (number,)),
            Question("What is the total amount due on this invoice?", (money(total),)),
            Question("What is the invoice date?", (when,)),
            Question("What is the due date of this invoice?", (due,)),
            Question("Who is the invoice billed to?", (client,)),
            Question("How much tax is charged on this invoice?", (money(tax),))]
    return p.done(ask(rng, pool, rng.randint(1, 3)))


def receipt(rng: random.Random, width: int, family: str) -> Drawn:
    p = Page(width, family, bg=(250, 248, 240))
    store = rng.choice(["FreshMart", "Corner Grocer", "Daily Basket", "Green Valley Foods",
                        "Harbor Market", "Sunrise Deli"])
    when = a_date(rng)
    stamp = f"{show_date(when, 0 if rng.random() < 0.5 else 1)} {rng.randint(7, 21)}:" \
            f"{rng.randrange(60):02d}"
    p.row([(0.5, store.upper(), "m")], 0.06, bold=True)
    p.row([(0.5, address(rng), "m")], 0.035, fill=GREY)
    p.row([(0.5, stamp, "m")], 0.035)
    p.rule(0.04, 0.96)
    items = rng.sample(GROCERIES, k=rng.randint(3, 7))
    prices = rng.sample(range(99, 1899), k=len(items))
    for item, cents in zip(items, prices, strict=True):
        p.row([(0.05, item, "l"), (0.95, money(cents, ""), "r")], 0.042)
    p.rule(0.04, 0.96)
    subtotal = sum(prices)
    tax = subtotal * 6 // 100
    total = subtotal + tax
    card = f"{rng.randrange(10000):04d}"
    p.row([(0.05, "SUBTOTAL", "l"), (0.95, money(subtotal, ""), "r")], 0.042)
    p.row([(0.05, "TAX 6%", "l"), (0.95, money(tax, ""), "r")], 0.042)
    p.row([(0.05, "TOTAL", "l"), (0.95, money(total), "r")], 0.05, bold=True)
    p.row([(0.05, "VISA", "l"), (0.95, f"**** {card}", "r")], 0.042)
    p.skip(0.03)
    p.row([(0.5, "THANK YOU FOR SHOPPING", "m")], 0.035)
    pick = rng.randrange(len(items))
    pool = [Question("What is the total on this receipt?", (money(total),)),
            Question("What is the name of the store?", (store,)),
            Question("What are the last four digits of the card used?", (card,)),
            Question(f"How much did the {items[pick]} cost?", (money(prices[pick], ""),)),
            Question("How much tax was paid?", (money(tax, ""),))]
    return p.done(ask(rng, pool, rng.randint(1, 3)))


FORMS = {
    "Patient Registration Form": ["Full Name", "Date of Birth", "Phone", "Email",
                                  "Insurance ID", "Emergency Contact"],
    "Employee Onboarding Form": ["Full Name", "Employee ID", "Department", "Start Date",
                                 "Manager", "Email"],
    "Vehicle Registration Form": ["Owner Name", "Plate Number", "Make", "Model", "Year",
                                  "Phone"],
}
DEPARTMENTS = ["Finance", "Logistics", "Research", "Marketing", "Support", "Legal"]
CARS = [("Toyota", "Corolla"), ("Ford", "Focus"), ("Honda", "Civic"), ("Volvo", "V60"),
        ("Skoda", "Octavia"), ("Mazda", "CX-5")]


def field_value(rng: random.Random, label: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    match label:
        case "Full Name" | "Owner Name" | "Manager" | "Emergency Contact":
            return rng.choice(PEOPLE)
        case "Date of Birth":
            return show_date(date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365)), 1)
        case "Start Date":
            return show_date(a_date(rng), 0)
        case "Phone":
            return f"555-{rng.randrange(10000):04d}"
        case "Email":
            return f"{rng.choice(PEOPLE).split()[0].lower()}{rng.randint(1, 99)}@example.com"
        case "Insurance ID" | "Employee ID":
            return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(100000, 999999)}"
        case "Department":
            return rng.choice(DEPARTMENTS)
        case "Plate Number":
            return f"{''.join(rng.choices(letters, k=3))} {rng.randint(100, 999)}"
        case "Make":
            return rng.choice(CARS)[0]
        case "Model":
            return rng.choice(CARS)[1]
        case _:
            return str(rng.randint(2005, 2024))


def form(rng: random.Random, width: int, family: str) -> Drawn:
    p = Page(width, family)
    title = rng.choice(sorted(FORMS))
    p.row([(0.06, title, "l")], 0.036, bold=True)
    p.row([(0.06, "Please print clearly in block letters.", "l")], 0.02, fill=GREY)
    p.skip(0.02)
    values = {label: field_value(rng, label) for label in FORMS[title]}
    boxed = rng.random() < 0.5
    for label, value in values.items():
        top = p.row([(0.06, f"{label}:", "l"), (0.40, value, "l")], 0.026)
        size = p.size(0.026)
        if boxed:
            p.draw.rectangle((p.px(0.38), top - size // 3, p.px(0.94), top + size * 4 // 3),
                             outline=GREY)
        else:
            base = top + size * 6 // 5
            p.draw.line((p.px(0.38), base, p.px(0.94), base), fill=GREY)
        p.skip(0.012)
    p.skip(0.02)
    signed = show_date(a_date(rng), 1)
    p.row([(0.06, "Signed on:", "l"), (0.40, signed, "l")], 0.022)
    pool = [Question(f"What is written in the '{label}' field of the form?", (value,))
            for label, value in values.items()]
    pool.append(Question("On what date was the form signed?", (signed,)))
    return p.done(ask(rng, pool, rng.randint(1, 3)))
