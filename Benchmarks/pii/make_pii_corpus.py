#!/usr/bin/env python3
"""Builds the PII benchmark corpus with Faker: texts that each hold one PII item, and clean
texts full of look-alikes, in six locales.

    python3 Benchmarks/pii/make_pii_corpus.py --seed 7 --per-kind 500 --clean 3000 > corpus.jsonl

One JSON object a line: {"id", "locale", "kind", "variant", "item", "text"} for a positive
("kind" is the PII kind evald's `pii` check reports, "item" the exact substring), and
{"id", "locale", "kind": null, "variant": <look-alike category>, "text"} for a clean text.

Ground truth for phones: Faker's phone formats are shapes filled with random digits, and some
are not numbers any country could assign (+31000-806360). A phone item is kept only when
`phonenumbers` (libphonenumber's metadata) says it is a valid number of the locale's country;
the dropped ones are counted on stderr. Faker is needed here only: CI reads the small corpus
committed in Tests/EvaldCoreTests/Fixtures/pii-corpus.jsonl.
"""

import argparse
import base64
import json
import string
import sys

from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"]
REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "nl_NL": "NL", "es_ES": "ES"}
KINDS = ["email", "phone", "payment_card", "us_ssn", "iban", "ipv4", "secret"]

# Sentence frames per language and kind; {x} is the item. Some name the kind, some do not.
FRAMES = {
    "en": {
        "email": ["You can reach the customer at {x}.", "Reply-To: {x}", "I've updated the account e-mail to {x} as requested.",
                  "Send the invoice to {x} and copy the manager.", "Contact {x} for the next steps."],
        "phone": ["Please call the customer back on {x}.", "Phone: {x}", "The courier can be reached at {x} until 6 pm.",
                  "Her number is {x}, she prefers texts.", "Call {x} to confirm the appointment."],
        "payment_card": ["The refund goes to the card {x}.", "Card number: {x}", "It was charged to {x} on Monday.",
                         "Use {x} for the replacement order.", "Payment method on file: {x} (exp 08/29)."],
        "us_ssn": ["SSN: {x}", "The applicant's social security number is {x}.", "Taxpayer {x} filed late.",
                   "Please verify {x} against the W-2."],
        "iban": ["Please transfer the refund to {x}.", "IBAN: {x}", "The account {x} belongs to the tenant.",
                 "Wire the deposit to {x} by Friday."],
        "ipv4": ["The login came from {x}.", "Blocked address {x} after five failed attempts.", "Server: {x}:8443",
                 "Point the DNS record at {x}."],
        "secret": ["export API_KEY={x}", "The token {x} was pasted into the ticket.", "Use {x} in the Authorization header.",
                   "config: {{\"secret\": \"{x}\"}}"],
    },
    "de": {
        "email": ["Sie erreichen den Kunden unter {x}.", "E-Mail: {x}", "Bitte schicken Sie die Rechnung an {x}."],
        "phone": ["Bitte rufen Sie den Kunden unter {x} zurück.", "Telefon: {x}", "Der Fahrer ist unter {x} erreichbar.",
                  "Rückruf an {x} bis 18 Uhr."],
        "payment_card": ["Die Erstattung geht auf die Karte {x}.", "Kartennummer: {x}", "Belastet wurde {x} am Montag."],
        "us_ssn": ["Die SSN des Antragstellers lautet {x}.", "SSN: {x}"],
        "iban": ["Bitte überweisen Sie auf {x}.", "IBAN: {x}", "Das Konto {x} gehört dem Mieter."],
        "ipv4": ["Die Anmeldung kam von {x}.", "Gesperrte Adresse {x} nach fünf Fehlversuchen."],
        "secret": ["Der Schlüssel {x} wurde ins Ticket kopiert.", "export API_KEY={x}"],
    },
    "fr": {
        "email": ["Vous pouvez joindre le client à {x}.", "Courriel : {x}", "Envoyez la facture à {x}."],
        "phone": ["Merci de rappeler le client au {x}.", "Tél. : {x}", "Le livreur est joignable au {x}."],
        "payment_card": ["Le remboursement sera fait sur la carte {x}.", "Numéro de carte : {x}", "Débité sur {x} lundi."],
        "us_ssn": ["Le SSN du demandeur est {x}.", "SSN : {x}"],
        "iban": ["Merci de virer le montant sur {x}.", "IBAN : {x}", "Le compte {x} appartient au locataire."],
        "ipv4": ["La connexion venait de {x}.", "Adresse bloquée : {x}."],
        "secret": ["La clé {x} a été collée dans le ticket.", "export API_KEY={x}"],
    },
    "nl": {
        "email": ["U kunt de klant bereiken via {x}.", "E-mail: {x}", "Stuur de factuur naar {x}."],
        "phone": ["Bel de klant terug op {x}.", "Telefoon: {x}", "De bezorger is bereikbaar op {x}."],
        "payment_card": ["De terugbetaling gaat naar kaart {x}.", "Kaartnummer: {x}", "Afgeschreven van {x} op maandag."],
        "us_ssn": ["Het SSN van de aanvrager is {x}.", "SSN: {x}"],
        "iban": ["Maak het bedrag over naar {x}.", "IBAN: {x}", "Rekening {x} is van de huurder."],
        "ipv4": ["De login kwam van {x}.", "Geblokkeerd adres {x}."],
        "secret": ["De sleutel {x} stond in het ticket.", "export API_KEY={x}"],
    },
    "es": {
        "email": ["Puede contactar al cliente en {x}.", "Correo: {x}", "Envíe la factura a {x}."],
        "phone": ["Llame al cliente al {x}.", "Teléfono: {x}", "El repartidor está disponible en el {x}."],
        "payment_card": ["El reembolso irá a la tarjeta {x}.", "Número de tarjeta: {x}", "Se cargó a {x} el lunes."],
        "us_ssn": ["El SSN del solicitante es {x}.", "SSN: {x}"],
        "iban": ["Transfiera el importe a {x}.", "IBAN: {x}", "La cuenta {x} es del inquilino."],
        "ipv4": ["El acceso vino de {x}.", "Dirección bloqueada: {x}."],
        "secret": ["La clave {x} se pegó en el ticket.", "export API_KEY={x}"],
    },
}

CARD_TYPES = ["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro"]
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"


def lang(locale):
    return locale.split("_")[0]


class Corpus:
    def __init__(self, seed):
        self.fakers = {}
        for index, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + index)
            self.fakers[locale] = fake
        self.rng = Faker()
        self.rng.seed_instance(seed)
        self.r = self.rng.random
        self.dropped_phones = 0

    def token(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def mixed(self, alphabet, n):
        """A random token that has letters and digits, as every real key does."""
        while True:
            t = self.token(alphabet, n)
            if any(c.isdigit() for c in t) and any(c.isalpha() for c in t):
                return t

    # ---- items -------------------------------------------------------------------------
    def email(self, fake):
        return self.r.choice([fake.email, fake.free_email, fake.company_email, fake.safe_email])(), "faker"

    def phone(self, fake, locale):
        import phonenumbers

        for _ in range(50):
            number = fake.phone_number()
            # Faker's "001-" is the international prefix 00 then +1.
            parseable = "+" + number[2:] if number.startswith("001-") else number
            try:
                parsed = phonenumbers.parse(parseable, REGION[locale])
            except phonenumbers.NumberParseException:
                self.dropped_phones += 1
                continue
            if phonenumbers.is_valid_number(parsed):
                return number, "faker"
            self.dropped_phones += 1
        raise RuntimeError("no valid phone number from Faker in 50 tries")

    def card(self, fake):
        card_type = self.r.choice(CARD_TYPES)
        number = fake.credit_card_number(card_type=card_type)
        style = self.r.choice(["plain", "spaces", "dashes"])
        if style == "plain":
            return number, card_type
        n = len(number)
        if card_type == "amex":
            sizes = [4, 6, 5]
        elif card_type == "diners":
            sizes = [4, 6, 4]
        else:
            sizes = [4] * (n // 4) + ([n % 4] if n % 4 else [])
        groups, at = [], 0
        for size in sizes:
            groups.append(number[at:at + size])
            at += size
        return (" " if style == "spaces" else "-").join(groups), f"{card_type} {style}"

    def ssn(self):
        return self.fakers["en_US"].ssn(), "faker"

    def iban(self, fake):
        value = fake.iban()
        if self.r.random() < 0.5:
            return " ".join(value[i:i + 4] for i in range(0, len(value), 4)), "grouped"
        return value, "compact"

    def ipv4(self, fake):
        return self.r.choice([fake.ipv4, fake.ipv4_private, fake.ipv4_public])(), "faker"

    def secret(self, fake):
        kind = self.r.choice(["openai", "openai_legacy", "anthropic", "aws", "github", "github_pat", "slack", "google",
                              "stripe", "jwt", "pem", "entropy"])
        if kind == "openai":
            return "sk-proj-" + self.mixed(URLSAFE, 48), kind
        if kind == "openai_legacy":
            return "sk-" + self.mixed(ALNUM, 48), kind
        if kind == "anthropic":
            return "sk-ant-api03-" + self.mixed(URLSAFE, 93) + "AA", kind
        if kind == "aws":
            return self.r.choice(["AKIA", "ASIA"]) + self.token(string.ascii_uppercase + "234567", 16), kind
        if kind == "github":
            return self.r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + self.mixed(ALNUM, 36), kind
        if kind == "github_pat":
            return "github_pat_11" + self.mixed(ALNUM, 20) + "_" + self.mixed(ALNUM, 59), kind
        if kind == "slack":
            return f"xoxb-{self.token(string.digits, 12)}-{self.token(string.digits, 13)}-{self.mixed(ALNUM, 24)}", kind
        if kind == "google":
            return "AIza" + self.mixed(URLSAFE, 35), kind
        if kind == "stripe":
            return self.r.choice(["sk_live_", "rk_live_"]) + self.mixed(ALNUM, 24), kind
        if kind == "jwt":
            def b64(obj):
                return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
            header = b64({"alg": "HS256", "typ": "JWT"})
            payload = b64({"sub": str(fake.random_int(1000, 99999)), "name": fake.name(), "iat": fake.random_int(1600000000, 1800000000)})
            return f"{header}.{payload}.{self.mixed(URLSAFE, 43)}", kind
        if kind == "pem":
            body = "\n".join(self.mixed(ALNUM + "+/", 64) for _ in range(3))
            return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----", kind
        return fake.password(length=self.r.choice([32, 36, 40]), special_chars=False), kind

    def positive(self, kind, locale):
        fake = self.fakers[locale]
        item, variant = {
            "email": lambda: self.email(fake),
            "phone": lambda: self.phone(fake, locale),
            "payment_card": lambda: self.card(fake),
            "us_ssn": lambda: self.ssn(),
            "iban": lambda: self.iban(fake),
            "ipv4": lambda: self.ipv4(fake),
            "secret": lambda: self.secret(fake),
        }[kind]()
        frame = self.r.choice(FRAMES[lang(locale)][kind])
        text = frame.format(x=item)
        # A sentence of the locale's filler around it, as an answer would have.
        if self.r.random() < 0.5:
            text = fake.sentence() + " " + text
        if self.r.random() < 0.5:
            text = text + " " + fake.sentence()
        return {"locale": locale, "kind": kind, "variant": variant, "item": item, "text": text}

    # ---- look-alikes -------------------------------------------------------------------
    def lookalike(self, locale):
        fake = self.fakers[locale]
        r = self.r
        d = lambda n: self.token(string.digits, n)  # noqa: E731
        nz = lambda: str(r.randint(1, 9))  # noqa: E731
        L = lang(locale)

        def version4():
            v = f"{r.randint(1, 20)}.{r.randint(0, 30)}.{r.randint(0, 20)}.{r.randint(0, 250)}"
            return {
                "en": r.choice([f"Pin the SDK to {v} until the fix ships.", f"We tested on {v} and 9.{r.randint(0, 9)}.", f"Upgrade from {v}."]),
                "de": f"Bitte auf {v} aktualisieren.", "fr": f"Passez à {v} avant lundi.",
                "nl": r.choice([f"Versie {v} lost dit op.", f"Update naar {v}."]), "es": f"Actualice a {v}.",
            }[L]

        def oid():
            arc = r.choice(["2.5.4." + str(r.randint(3, 99)), "1.2.840.113549.1.1." + str(r.randint(1, 14)),
                            "1.3.6.1.4.1." + str(r.randint(100, 60000)), "2.5.29." + str(r.randint(14, 37)),
                            "0.9.2342." + str(r.randint(10, 200))])
            return r.choice([f"The attribute OID {arc} maps to the common name.", f"Map {arc} to the LDAP field.",
                             f"Certificate extension {arc} is marked critical."])

        def chatcmpl():
            return r.choice([f"Request id chatcmpl-{self.mixed(ALNUM, 29)} failed with 500.",
                             f'{{"id": "chatcmpl-{self.mixed(ALNUM, 29)}", "object": "chat.completion"}}'])

        def gdocs():
            doc = "1" + self.mixed(URLSAFE, 43)
            kind = r.choice(["document", "spreadsheets", "presentation"])
            return f"The spec is at https://docs.google.com/{kind}/d/{doc}/edit?usp=sharing"

        def sha512():
            digest = base64.b64encode(bytes(r.getrandbits(8) for _ in range(64))).decode()
            return f'"integrity": "sha512-{digest}"'

        def zip4():
            z = "0" + d(4) + "-" + d(4)
            return r.choice([f"Ship to {fake.street_address()}, Boston, MA {z}.", f"ZIP+4: {z}", f"{fake.city()}, CT {z}"])

        def ean13():
            code = fake.ean13()
            return r.choice([f"EAN {code}", f"Barcode: {code}", f"GTIN {code} is out of stock.", f"Artikel {code} (EAN)"])

        def tracking():
            return r.choice([
                f"Tracking number: {nz()}{d(14)}", f"FedEx tracking {nz()}{d(11)}", f"USPS tracking number 9400{d(18)}",
                f"UPS 1Z{self.token(string.ascii_uppercase + string.digits, 16)}", f"DHL tracking number {d(10)}",
                f"Sendungsnummer {nz()}{d(14)}", f"Numéro de suivi {nz()}{d(12)}", f"Track & Trace 3S{self.token(string.ascii_uppercase, 4)}{d(9)}",
                f"Número de seguimiento {nz()}{d(14)}",
            ])

        def order():
            return r.choice([f"Order {fake.bothify('??-#####-###').upper()} shipped.", f"Invoice {fake.year()}-{d(6)} is due.",
                             f"Ticket #{d(5)} and order A-{d(5)}.", f"Customer number {nz()}{d(8)}.",
                             f"Bestellnummer {nz()}{d(9)}", f"Commande n° {nz()}{d(9)}", f"Referentie {nz()}{d(11)}",
                             f"Pedido {nz()}{d(9)} enviado."])

        def dates():
            return r.choice([f"Delivered on {fake.date()} at {fake.time()}.", f"Lieferung am {fake.date(pattern='%d.%m.%Y')}.",
                             f"Livré le {fake.date(pattern='%d/%m/%Y')}.", f"Timestamp {fake.iso8601()}", f"Geleverd op {fake.date(pattern='%d-%m-%Y')}.",
                             f"Unix time {fake.unix_time():.0f}"])

        def money():
            return r.choice([f"Total {fake.pricetag()}", f"Summe {r.randint(1, 9999)},{d(2)} EUR", f"Amount: {r.randint(1, 99)} {r.randint(100, 999)} {d(3)},00 €",
                             f"Balance {r.randint(1000, 999999):,}.{d(2)} USD"])

        def ids():
            return r.choice([f"Reference {fake.uuid4()}.", f"sha256 {fake.sha256()}", f"commit {fake.sha1()}", f"md5 {fake.md5()}",
                             f"trace {fake.hexify('^' * 32)}", f"digest sha256:{fake.sha256()}", f"ISBN {fake.isbn13()}", f"ISBN {fake.isbn10()}"])

        def network():
            return r.choice([f"Listening on localhost:{r.randint(1024, 65535)}.", f"Python {r.randint(2, 3)}.{r.randint(0, 13)}.{r.randint(0, 20)}",
                             f"Windows 10.0.{d(5)}.{d(4)}", f"Coordinates {fake.latitude()}, {fake.longitude()}", f"{fake.mac_address()} is the MAC.",
                             f"The range 1.2.3 to 4.5.6 changed.", f"See section {r.randint(1, 9)}.{r.randint(1, 9)}.{r.randint(1, 9)}.{r.randint(1, 9)} of the manual."])

        def handles():
            return r.choice([f"Ping @{fake.user_name()} on Slack.", f"The icon is logo@{r.randint(2, 3)}x.png.", f"npm install {fake.word()}@{r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
                             f"write to {fake.first_name().lower()} at example dot com", "Send it to root@localhost for testing."])

        def codes():
            return r.choice([f"BIC {fake.swift()}", f"Postcode {fake.postcode()}", f"Plate {fake.license_plate()}",
                             f"Slug how-to-{fake.word()}-your-{fake.word()}-in-{fake.year()}-step-by-step", f"Class {fake.word().title()}{fake.word().title()}{fake.word().title()}Renderer{fake.year()}",
                             f"/api/v1/customers/cus_{d(5)}/subscriptions/sub_{d(5)}/items", f"Sort code {d(2)}-{d(2)}-{d(2)}",
                             f"Opening hours 08:00-20:00, {r.randint(1, 5)}-{r.randint(6, 9)} business days.", f"Lottery {d(2)} {d(2)} {d(2)} {d(2)} {d(2)} {d(2)}"])

        makers = {"version4": version4, "oid": oid, "chatcmpl": chatcmpl, "gdocs": gdocs, "sha512": sha512, "zip4": zip4,
                  "ean13": ean13, "tracking": tracking, "order": order, "dates": dates, "money": money, "ids": ids,
                  "network": network, "handles": handles, "codes": codes}
        variant = r.choice(sorted(makers))
        text = makers[variant]()
        if r.random() < 0.5:
            text = fake.sentence() + " " + text
        return {"locale": locale, "kind": None, "variant": variant, "text": text}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-kind", type=int, default=500, help="positives per kind (spread over the locales)")
    parser.add_argument("--clean", type=int, default=3000, help="clean look-alike texts")
    args = parser.parse_args()
    corpus = Corpus(args.seed)
    out = sys.stdout
    n = 0
    for kind in KINDS:
        for i in range(args.per_kind):
            row = corpus.positive(kind, LOCALES[i % len(LOCALES)])
            row["id"] = f"p{n}"
            n += 1
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    for i in range(args.clean):
        row = corpus.lookalike(LOCALES[i % len(LOCALES)])
        row["id"] = f"c{i}"
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"phones dropped as invalid by phonenumbers: {corpus.dropped_phones}", file=sys.stderr)


if __name__ == "__main__":
    main()
