#!/usr/bin/env python3
"""Generate tcf's demo dataset: synthetic customer-support queries, 15 classes.

    python3 scripts/gen_demo_data.py                 # writes data/demo/{train,valid,test}.csv
    python3 scripts/gen_demo_data.py --out-dir /tmp/x --seed 7 --per-class 200

Standard library only. The output is a pure function of the arguments: the
same seed and per-class count give byte-identical files (one random.Random,
no set/hash-order iteration). Each query is built from a hand-written
sentence frame of its class, slot fillers (products, order numbers, amounts,
dates, plans, devices, error codes, ...), optional greeting / context /
closing sentences, and, for about a quarter of the queries, realistic noise
(typos, casing, dropped punctuation, extra spaces, emoji, text-speak).
Texts are de-duplicated across the whole dataset on a normalised key
(case-folded, whitespace collapsed), then split 70/15/15 per class.

CSV format matches the shared datasets: header `text,label`, UTF-8 without
BOM, CRLF line ends, RFC 4180 minimal quoting.
"""

import argparse
import csv
import os
import random
import re
import sys

# ---------------------------------------------------------------------------
# Slot fillers
# ---------------------------------------------------------------------------

PRODUCTS = [
    "Aurora X2 headset", "Nimbus 4 smartwatch", "Orbit mini speaker",
    "Pulse fitness tracker", "Lumen desk lamp", "Echo Pro",
    "Vertex laptop stand", "Stratus air purifier", "Kettle One smart kettle",
    "Atlas hiking backpack", "Nova 2 e-reader", "Halo baby monitor",
    "Drift robot vacuum", "Cirrus 4K webcam", "Zen yoga mat",
    "Ember coffee grinder", "Polar thermal bottle", "Beacon doorbell camera",
]
# subsets of PRODUCTS for frames that only make sense for some of them
GADGETS = ["Aurora X2 headset", "Nimbus 4 smartwatch", "Orbit mini speaker",
           "Pulse fitness tracker", "Echo Pro", "Stratus air purifier",
           "Kettle One smart kettle", "Nova 2 e-reader", "Halo baby monitor",
           "Drift robot vacuum", "Cirrus 4K webcam", "Beacon doorbell camera"]
BATTERY = ["Aurora X2 headset", "Nimbus 4 smartwatch", "Orbit mini speaker",
           "Pulse fitness tracker", "Echo Pro", "Nova 2 e-reader"]
LISTENING = ["Orbit mini speaker", "Halo baby monitor", "Cirrus 4K webcam",
             "Beacon doorbell camera", "Nimbus 4 smartwatch"]
ITEMS = ["hoodie", "jacket", "jeans", "sneakers", "dress", "t-shirt",
         "running shoes", "winter coat", "shirt", "boots"]
SIZES = ["S", "M", "L", "XL", "XS", "38", "40", "42", "10.5", "9"]
COLOURS = ["black", "navy", "olive", "red", "beige", "grey", "white", "green"]
PLANS = ["Basic", "Starter", "Standard", "Plus", "Premium", "Pro", "Family",
         "Team", "Business", "Student"]
ADDONS = ["extra storage", "priority support", "advanced analytics",
          "SMS notifications", "cloud backup", "custom domain"]
DEVICES = ["iPhone 13", "iPhone 15 Pro", "Pixel 7", "Samsung Galaxy S22",
           "iPad", "MacBook Air", "Windows 11 laptop", "Chromebook",
           "Android tablet", "Xiaomi Redmi Note 12", "Surface Pro"]
OSES = ["Windows 11", "Windows 10", "macOS Sonoma", "Ubuntu 22.04", "Linux",
        "Android 14", "iOS 17", "ChromeOS"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Brave", "Opera"]
ERRORS = ["error 500", "ERR_CONNECTION_RESET", "error E-1042", "code 403",
          "error 0x80070005", "a 'Something went wrong' message",
          "a timeout error", "SYNC_FAILED", "error 429", "error code 7",
          "'unexpected token'", "error 502 Bad Gateway", "E_AUTH_02",
          "'Network request failed'"]
CARDS = ["Visa ending in 4417", "Mastercard ending 0032", "Amex card",
         "debit card", "company credit card", "Revolut card",
         "Visa ending 9921", "Mastercard", "credit card"]
CARD_BRANDS = ["Amex", "Discover", "Maestro", "JCB", "UnionPay", "Diners Club"]
CARRIERS = ["UPS", "DHL", "FedEx", "USPS", "Royal Mail", "DPD", "GLS",
            "Canada Post", "Hermes", "PostNL"]
CITIES = ["Berlin", "Manchester", "Toronto", "Austin", "Lyon", "Melbourne",
          "Dublin", "Warsaw", "Mumbai", "Chicago", "Leeds", "Rotterdam"]
COUNTRIES = ["Canada", "Germany", "Australia", "Norway", "Switzerland",
             "Brazil", "Ireland", "Japan", "Mexico", "India", "South Africa",
             "the UK", "Poland"]
SECTIONS = ["dashboard", "settings page", "reports tab", "inbox",
            "calendar view", "billing page", "search page", "profile page",
            "checkout page", "admin panel"]
FEATURES = ["dark mode", "export to CSV", "a Linux desktop app",
            "keyboard shortcuts", "calendar integration", "bulk editing",
            "offline mode", "recurring tasks", "a widget for the home screen",
            "shared folders", "custom reports", "two-factor login with security keys",
            "a family sharing option", "multi-currency support",
            "an undo button", "split payments", "a web version",
            "voice commands", "tags and filters", "an API for developers",
            "scheduled exports", "larger font options"]
FEATURE_VERBS = ["export my data to Excel", "schedule reports by email",
                 "set a default currency", "pin important items to the top",
                 "sort by due date", "use the app offline",
                 "share a folder with a guest", "merge duplicate contacts",
                 "change the colour theme", "set different notification sounds",
                 "edit several items at once", "attach files to comments",
                 "log in with a security key", "restore deleted items",
                 "filter by tag", "mute notifications at night",
                 "link two accounts", "print a monthly summary"]
INTEGRATIONS = ["Slack", "Google Drive", "Zapier", "Microsoft Teams",
                "Notion", "Salesforce", "Shopify", "Outlook", "Trello",
                "Dropbox", "HubSpot"]
LANGUAGES = ["Polish", "Portuguese", "Japanese", "Arabic", "Hindi",
             "Turkish", "Dutch", "Korean", "Greek"]
THINGS = ["autoplay", "the sound effects", "read receipts",
          "the weekly summary email", "animations", "the onboarding tips",
          "the confetti", "auto-sync"]
AGENTS = ["Sarah", "Tom", "Aisha", "Marco", "Kenji", "Lucy", "Daniel", "Ana",
          "Priya", "Jonas"]
NAMES = ["Maria", "John", "Priya", "Chen", "Ahmed", "Olga", "Lukas", "Fatima",
         "Sam", "Grace", "Tomasz", "Ines", "Raj", "Emma", "Kwame", "Yuki",
         "Carlos", "Hannah", "M. Rossi", "J. Smith"]
COMPANIES = ["Brightline Ltd", "Norrgard AB", "Kestrel Consulting",
             "Patel & Sons", "Hoffmann GmbH", "Blue Harbor Inc.",
             "Studio Ferro", "Oakfield Dental"]
DESCRIPTORS = ["TCF*SHOP 0800", "PAYPAL *TCFSTORE", "TCF DIGITAL SERVICES",
               "TCF.COM/BILL", "SQ *TCF STORE"]
CURRENCIES = ["EUR", "GBP", "CAD", "AUD", "CHF"]
HEIGHTS = ["5'9\"", "180 cm", "6 ft", "165cm", "5 foot 4"]
EMAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com",
                 "proton.me", "web.de", "hotmail.co.uk"]
NUM_WORDS = ["two", "three", "four", "five", "six", "seven", "ten"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
            "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def _amount(rng, cur=None):
    if cur is None:
        cur = rng.choice(["$", "$", "$", "€", "€", "£", "USD ", "EUR "])
    whole = rng.choice([5, 7, 9, 12, 14, 15, 19, 24, 29, 34, 39, 49, 59, 79,
                        89, 99, 120, 149, 199, 249, 320])
    cents = rng.choice(["", "", ".99", ".00", ".50", ".95", ".49"])
    if cur == "EUR " or (cur == "€" and rng.random() < 0.3):
        # European style, symbol after: 14,99 €
        c = cents.replace(".", ",")
        return "%d%s €" % (whole, c) if cur == "€" else "EUR %d%s" % (whole, c)
    return "%s%d%s" % (cur, whole, cents)


def _date(rng):
    k = rng.randrange(9)
    if k == 0:
        return "%s %d" % (rng.choice(MONTHS), rng.randint(1, 28))
    if k == 1:
        return "%d/%d" % (rng.randint(1, 12), rng.randint(1, 28))
    if k == 2:
        return "last " + rng.choice(WEEKDAYS)
    if k == 3:
        return rng.choice(["yesterday", "Monday", "Friday", "last week",
                           "the weekend"])
    if k == 4:
        d = rng.randint(1, 28)
        suf = "th" if 11 <= d <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
        return "the %d%s" % (d, suf)
    if k == 5:
        return "%d days ago" % rng.randint(2, 12)
    if k == 6:
        return "%02d.%02d.2024" % (rng.randint(1, 28), rng.randint(1, 12))
    if k == 7:
        return "2024-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    return "%d %s" % (rng.randint(1, 28), rng.choice(MONTHS))


def _order(rng):
    k = rng.randrange(5)
    if k == 0:
        return "#A%05d" % rng.randint(10000, 99999)
    if k == 1:
        return "#%d" % rng.randint(100000, 9999999)
    if k == 2:
        return "A-%05d" % rng.randint(10000, 99999)
    if k == 3:
        return "#ORD-%d" % rng.randint(20000, 99999)
    return "#A%05d" % rng.randint(10000, 99999)


def _tracking(rng):
    k = rng.randrange(3)
    alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    if k == 0:
        return "1Z" + "".join(rng.choice(alnum) for _ in range(16))
    if k == 1:
        return "".join(rng.choice("0123456789") for _ in range(12))
    return "JD%012d" % rng.randint(10 ** 10, 10 ** 12 - 1)


def _email(rng):
    n = rng.choice(["maria", "j.smith", "chen.li", "ahmed88", "olga.k",
                    "lukas.b", "fatima_z", "sam", "grace.h", "tom.w", "raj.p",
                    "emma", "yuki.t", "carlos", "hannah.m"])
    if rng.random() < 0.5:
        n += str(rng.randint(1, 99))
    return n + "@" + rng.choice(EMAIL_DOMAINS)


class Slots(dict):
    """Fills {slot} on first use and keeps the value for the whole message."""

    def __init__(self, rng):
        super().__init__()
        self.rng = rng

    def _pick_other(self, key, pool):
        first = self[key]
        return self.rng.choice([p for p in pool if p != first])

    def __missing__(self, key):
        rng = self.rng
        simple = {
            "product": PRODUCTS, "gadget": GADGETS, "battery": BATTERY,
            "listening": LISTENING, "item": ITEMS, "size": SIZES,
            "colour": COLOURS, "plan": PLANS, "addon": ADDONS,
            "device": DEVICES, "os": OSES, "browser": BROWSERS,
            "error": ERRORS, "card": CARDS, "card_brand": CARD_BRANDS,
            "carrier": CARRIERS, "city": CITIES, "country": COUNTRIES,
            "section": SECTIONS, "feature": FEATURES,
            "feature_verb": FEATURE_VERBS, "integration": INTEGRATIONS,
            "language": LANGUAGES, "thing": THINGS, "agent": AGENTS,
            "name": NAMES, "company": COMPANIES, "descriptor": DESCRIPTORS,
            "currency": CURRENCIES, "height": HEIGHTS, "n": NUM_WORDS,
        }
        if key in simple:
            v = rng.choice(simple[key])
        elif key == "product2":
            v = self._pick_other("product", PRODUCTS)
        elif key == "size2":
            v = self._pick_other("size", SIZES)
        elif key == "plan2":
            v = self._pick_other("plan", PLANS)
        elif key == "amount":
            v = _amount(rng)
        elif key == "amount2":
            a = self["amount"]
            cur = "€" if "€" in a else "£" if "£" in a else "$"
            v = a
            while v == a:
                v = _amount(rng, cur)
        elif key == "date":
            v = _date(rng)
        elif key == "future":
            v = rng.choice(["Friday", "Saturday", "next Monday", "next week",
                            "the 20th", "the 28th", "the end of the month",
                            "December 3", "June 14", "3/28", "the weekend"])
        elif key == "date2":
            v = self["date"]
            while v == self["date"]:
                v = _date(rng)
        elif key in ("order", "order2"):
            v = _order(rng)
        elif key == "tracking":
            v = _tracking(rng)
        elif key == "email":
            v = _email(rng)
        elif key == "days":
            v = rng.choice(["3", "4", "5", "6", "7", "8", "10", "12", "14",
                            "21", "three", "five", "ten"])
        elif key == "years":
            v = rng.choice(["2", "3", "4", "5", "6", "8", "10", "two",
                            "three", "five"])
        elif key == "seats":
            v = str(rng.choice([5, 8, 10, 12, 15, 20, 25, 30, 40, 50]))
        elif key == "seats2":
            v = str(rng.randint(2, int(self["seats"]) - 1))
        elif key == "ticket":
            v = rng.choice(["#", "TCK-", "#T"]) + str(rng.randint(100000, 999999))
        elif key == "invoice":
            v = "INV-2024-%04d" % rng.randint(1, 9999)
        elif key == "vat":
            v = rng.choice(["DE", "FR", "IE", "NL", "PL"]) + str(rng.randint(10 ** 8, 10 ** 9 - 1))
        else:
            raise KeyError(key)
        self[key] = v
        return v


# ---------------------------------------------------------------------------
# Classes: definition, sentence frames, terse forms, context sentences
# ---------------------------------------------------------------------------

CLASSES = {}


def cls(name, definition, frames, terse, context):
    CLASSES[name] = {"def": definition, "frames": frames, "terse": terse,
                     "context": context}


cls("billing",
    "Questions about invoices, receipts, charges on a statement, billing dates, tax/VAT and billing details (not asking for money back, not a failed payment).",
    [
        "Why was I charged {amount} on {date}?",
        "I don't recognise a charge of {amount} on my statement from {date}. What is it for?",
        "Can you send me an invoice for order {order}?",
        "Where can I download my invoices?",
        "I need a VAT invoice with my company name on it for the {plan} plan.",
        "My bill this month is {amount} but my plan is supposed to be cheaper. Can you explain?",
        "How do I change the billing address that appears on my invoices?",
        "The invoice from {date} shows the wrong company name, can you reissue it to {company}?",
        "When is my next billing date?",
        "I was billed for the {plan} plan but I'm on {plan2}. Which one is correct?",
        "Why did my monthly bill go up from {amount} to {amount2}?",
        "Could you explain the line items on my latest invoice? There's a fee I don't understand.",
        "Is tax included in the {amount} I was charged?",
        "I need copies of all invoices from last year for my accountant.",
        "There's a charge labelled {descriptor} on my bank statement, is that you?",
        "My invoice says {amount} but the checkout page said {amount2}.",
        "Please add my VAT number {vat} so it shows on future invoices.",
        "I have a question about my bill, who should I talk to?",
        "Why was I charged a late fee on invoice {invoice}?",
        "How is the prorated amount on my last bill calculated?",
        "I see two charges of {amount} on {date}. Was I billed twice?",
        "Can you change the email address where invoices are sent to {email}?",
        "The receipt for {order} is missing the shipping cost, can you send a corrected one?",
        "We're being charged for {seats} seats but we only have {seats2} users.",
        "What's this {amount} charge? I thought my free trial was still running.",
        "How do I see my billing history?",
        "Can I get a PDF receipt for the payment I made on {date}?",
        "The invoice needs to be addressed to my employer, {company}.",
        "Why does my card statement show a pending charge of {amount} from you?",
        "The amount on my billing statement is different from the price on your website.",
        "Is there a way to get one combined invoice per month instead of one per order?",
        "Our accounts team needs a credit note for invoice {invoice}.",
        "The currency on my invoice is wrong, we should be billed in {currency}.",
        "Explain the charge of {amount} please, I didn't buy anything on {date}.",
        "I got an email saying invoice {invoice} is overdue, but I thought it was paid automatically.",
        "Can the billing contact on our account be changed to {email}?",
        "What does the 'service fee' on my bill mean?",
        "Why was I charged before my trial ended?",
        "Quick billing question: is the {amount} charge monthly or a one-off?",
        "Our invoice doesn't show our purchase order number, which our finance team requires.",
        "I was charged sales tax although we are tax exempt. How do I submit our exemption certificate?",
        "Where do I find the invoice number for order {order}?",
        "How much will I be billed next month after the price change?",
        "The charge on my {card} is {amount}, but the {plan} plan is listed at {amount2}. Why the difference?",
        "My receipt shows the old address, can you update the billing details on my account?",
        "Can you tell me what I'm paying for each month? The bill is confusing.",
        "I'm being billed in dollars although I live in {country}.",
        "Do you send paper invoices or only by email?",
        "I've been charged {amount} for {addon} but I never added it.",
    ],
    ["billing question", "invoice pls", "need an invoice", "why was i charged",
     "charged twice?", "wrong amount on my bill", "billing history",
     "invoice for {order}", "vat invoice", "unknown charge {amount}",
     "next bill date?", "what is this charge", "copy of invoice"],
    ["I'm the account owner and I handle payments for our team.",
     "Our finance department needs this by the end of the month.",
     "I checked my bank app and the charge is definitely there.",
     "I compared it with last month's invoice and the numbers don't match.",
     "The charge appeared on my {card}.",
     "I'm not asking for money back, I just want to understand the bill.",
     "It's for our company's bookkeeping.",
     "I can't find an explanation anywhere in my account."])

cls("payment_issue",
    "A payment that fails, is declined or gets stuck, or trouble adding/updating a payment method.",
    [
        "My card keeps getting declined at checkout.",
        "I'm trying to pay for order {order} but the payment fails every time.",
        "Payment won't go through with my {card}.",
        "I can't add a new credit card to my account, it just shows {error}.",
        "PayPal isn't showing as a payment option anymore.",
        "The checkout page freezes when I click Pay.",
        "The money was taken from my bank but the order still shows as unpaid.",
        "Why does it say 'payment method invalid' when my card works everywhere else?",
        "I got an email that my payment failed and my subscription will be suspended. How do I fix it?",
        "How do I update my expired card so the payment goes through?",
        "The 3D Secure verification never loads so I can't complete the payment.",
        "Apple Pay fails with an error at the last step.",
        "Can I pay by bank transfer instead? My card isn't working on your site.",
        "My automatic payment didn't go through this month.",
        "You keep trying to charge my old card which is closed, how do I switch it?",
        "I entered my card details three times and keep getting 'transaction declined'.",
        "Is there a problem with payments today? Nobody in my office can pay.",
        "The payment has been stuck on 'processing' for {order} since {date}.",
        "My bank says they didn't block anything, but your site says my payment was declined.",
        "The promo code brought the total to {amount} but then the payment failed.",
        "My gift card balance won't apply at checkout.",
        "I tried to pay {amount} and got {error}.",
        "How do I remove an old card from my account? Payments keep failing on it.",
        "I got an error message while paying and no order confirmation. Did the payment work?",
        "The payment failed but {amount} is pending on my account. Will it be taken?",
        "Google Pay doesn't work in your app on my {device}.",
        "My renewal payment failed and now my account is read-only.",
        "Does your checkout accept {card_brand}? My card was rejected.",
        "It says the billing address doesn't match my card, but it does.",
        "The payment form won't accept my postcode, it only takes US zip codes.",
        "The pay button is greyed out.",
        "Tried two different cards, both declined. What's going on?",
        "Your payment page says 'insufficient funds' but there is plenty of money on the card.",
        "The direct debit for my subscription failed, what do I do?",
        "Please retry the failed payment for my subscription, I've topped up my account.",
        "How can I pay the outstanding balance of {amount} manually?",
        "After entering my card I keep getting redirected back to the cart.",
        "My Klarna payment was rejected, can I use another method?",
        "The SMS code to confirm the payment never arrives.",
        "I need to change the card on file for my {plan} subscription, the current one expired.",
        "Why was my payment flagged as fraud?",
        "checkout says 'payment could not be processed, try again later' for hours now",
        "Is it safe to retry the payment? I don't want to be charged twice for {order}.",
        "My company card gets declined only on your site.",
        "I can't complete my purchase, the payment step times out in {browser}.",
        "The card was charged {amount} but your site says the payment failed.",
        "Every time I try to pay for the {product} I get {error}.",
        "Can you check why my payment isn't going through? I need this today.",
    ],
    ["card declined", "payment failed", "cant pay", "payment not going through",
     "update my card", "paypal not working", "pay button broken",
     "declined again", "payment error {error}", "payment stuck",
     "can't add card", "checkout payment fails"],
    ["I've double-checked the card number, expiry date and CVV.",
     "My bank confirmed there is no block on the card.",
     "I tried on both the website and the app.",
     "I really need to get this paid today.",
     "I tried again after clearing my cache, same result.",
     "The card works fine in other shops.",
     "I don't want my account to be suspended because of this."])

cls("refund_request",
    "The customer wants money back (full, partial, or the difference) or asks where a promised refund is.",
    [
        "I'd like a refund for order {order}.",
        "Please refund the {amount} I was charged on {date}.",
        "I was charged twice for the same order, please refund one of the payments.",
        "Can I get my money back for the {gadget}? It stopped working after a week.",
        "I cancelled within the trial period but was still charged {amount}. I want a refund.",
        "How long does a refund take to show up on my card?",
        "I returned the {product} {days} days ago and still haven't received my refund.",
        "I want a full refund, the item never arrived.",
        "Your app auto-renewed my subscription without warning. Please refund it.",
        "Requesting a refund for the annual plan, I meant to buy monthly.",
        "You promised a refund on {date} and it still isn't here.",
        "Can the refund go to a different card? My old one was cancelled.",
        "I was overcharged by {amount}, please refund the difference.",
        "Please give me a partial refund for the missing items in {order}.",
        "The price dropped to {amount} a day after I bought it. Can you refund the difference?",
        "What's the status of my refund for {order}?",
        "I never used the service after the upgrade, please refund the upgrade fee.",
        "The workshop was cancelled, so I should get my money back.",
        "I accidentally bought the {product} twice, please refund one.",
        "Your agent told me I'd receive a refund of {amount}, when will it arrive?",
        "I want my money back. The {product} is nothing like the description.",
        "Can you refund the shipping fee? The package arrived {days} days late.",
        "I was charged after cancelling my subscription. Refund this charge please.",
        "Is it possible to get a prorated refund for the rest of the year?",
        "refund still not received, it's been {days} business days",
        "I paid for express shipping and got standard. Please refund the express fee.",
        "My kid made an in-app purchase of {amount} without permission, can I get it refunded?",
        "Please reverse the charge from {date}, it was a mistake.",
        "What's your refund policy for digital purchases? I'd like my money back for one.",
        "Refund order {order} to my PayPal account, please.",
        "I'd like to use your 30-day money back guarantee.",
        "I got the refund confirmation email but there's no money on my account.",
        "The refund amount is wrong, you refunded {amount} instead of {amount2}.",
        "If I don't get a refund by Friday I'll file a chargeback with my bank.",
        "Could you process the refund for the damaged item I reported?",
        "The voucher didn't apply and I paid full price. Please refund the discount amount.",
        "I need this refund urgently, I was charged {amount} I can't afford.",
        "Please issue a refund to the original payment method for {order}.",
        "The renewal went through yesterday but I no longer use the account. Any chance of a refund?",
        "The service was down for {days} days, I'd like a refund for that period.",
        "Can I get a refund on an unused gift card?",
        "Who do I contact to get refunded for a cancelled order?",
        "I sent the {item} back and was told I'd be refunded, not exchanged. Where's my money?",
        "Money back please, the {product} broke on day one.",
        "I was billed {amount} for {addon} I never asked for, please refund it.",
        "Can you refund the duplicate payment on my {card}?",
        "I'm not happy with the {plan} plan and would like a refund for this month.",
        "My refund for {order} was approved on {date}, when will I actually get it?",
    ],
    ["refund pls", "i want a refund", "refund {order}", "where is my refund",
     "money back", "refund status?", "refund request", "need refund asap",
     "refund the double charge", "refund not received", "refund please"],
    ["I have the bank statement showing the charge if you need it.",
     "I already sent the item back with tracking.",
     "I'm really disappointed to have to ask for this.",
     "Please confirm once the refund has been processed.",
     "The original payment was made with my {card}.",
     "I don't want a voucher or store credit, just the money.",
     "The amount was {amount}."])

cls("technical_support",
    "Something in the app, website or device is broken: crashes, errors, bugs, sync, installation, connectivity.",
    [
        "The app crashes every time I open it on my {device}.",
        "I'm getting {error} when I try to upload a file.",
        "The website won't load in {browser}.",
        "Sync between my phone and laptop stopped working.",
        "After the latest update the app is really slow.",
        "Notifications aren't coming through on my {device}.",
        "How do I reinstall the app without losing my data?",
        "My {gadget} won't connect to Bluetooth.",
        "The {gadget} won't turn on after the firmware update.",
        "The {section} is just a blank page.",
        "The app keeps logging me out every few minutes.",
        "Export to PDF produces an empty file.",
        "The app says 'no internet connection' but my wifi works fine.",
        "Video calls keep dropping after about a minute.",
        "I can't pair my {gadget} with my {device}.",
        "The desktop app won't install on {os}, it says {error}.",
        "Images don't load in the {section}.",
        "Is there an outage? Nothing is loading for me.",
        "Search returns no results even for things I know exist.",
        "My {battery} battery drains in a couple of hours since the update.",
        "The app freezes on the loading screen.",
        "Getting {error} whenever I save changes.",
        "The API returns {error} for every request since this morning.",
        "Audio and video are out of sync in the app on my {device}.",
        "The screen flickers when I open the {section} on my {device}.",
        "My data disappeared after the update, how do I get it back?",
        "How do I reset the {gadget} to factory settings?",
        "The Google Calendar integration stopped syncing events.",
        "The buttons don't respond when I tap them on my {device}.",
        "I can't print from the app, nothing happens when I press print.",
        "Your browser extension doesn't work in {browser} anymore.",
        "The app won't update from the Play Store, it's stuck at 'pending'.",
        "Uploads over 10 MB fail with {error}.",
        "The text in the {section} is unreadable in dark mode.",
        "The {gadget} keeps disconnecting from wifi.",
        "Charts in the reports tab show wrong numbers since yesterday.",
        "The app uses 100% CPU on my {device}.",
        "Where can I find the troubleshooting guide for the {gadget}?",
        "My files are stuck on 'uploading' forever.",
        "The webhook stopped firing after I changed the URL.",
        "I tried restarting, reinstalling and clearing the cache but the {section} still won't open.",
        "{error} appears right after the app starts.",
        "The app keeps asking for permissions even after I granted them.",
        "The charging case of my Echo Pro doesn't charge.",
        "The touch controls on my {gadget} stopped responding.",
        "The download link in your email is broken.",
        "The {section} shows {error} when I click save.",
        "Since updating to {os} the app won't start.",
        "The app on my {device} doesn't show my latest changes from the website.",
    ],
    ["app crashing", "{error} help", "site not loading", "app wont open",
     "sync broken", "bug in the {section}", "{gadget} not turning on",
     "app keeps freezing", "blank screen", "app not working",
     "{gadget} wont connect"],
    ["I'm on the latest version of the app.",
     "I've already restarted the device twice.",
     "This started happening after the last update.",
     "It works fine on my other device.",
     "I can send screenshots if that helps.",
     "I'm using {browser} on {os}.",
     "I already tried uninstalling and installing again."])

cls("account_access",
    "Cannot log in or get into the account: passwords, resets, 2FA codes, lockouts, login email, SSO.",
    [
        "I can't log in to my account.",
        "The password reset email never arrives.",
        "My account is locked after too many login attempts.",
        "I lost my phone and can't get the two-factor code.",
        "It says 'email not found' but I definitely have an account.",
        "How do I change the email address I log in with?",
        "I forgot my password and the reset link has expired.",
        "Someone changed my password, I think my account was hacked.",
        "I don't get the verification code by SMS when I log in.",
        "The login page just reloads when I enter my details.",
        "I signed up with Google and now I can't log in with my email and password.",
        "My username isn't recognised.",
        "How do I unlock my account?",
        "I changed my phone number and now I can't receive the 2FA code.",
        "Sign in with Apple doesn't work on my {device}.",
        "The reset link says 'invalid token'.",
        "I haven't been able to access my account since {date}.",
        "Can you help me recover my account? I no longer have access to {email}.",
        "The codes from my authenticator app are always rejected.",
        "My account was suspended and I don't know why, I can't sign in.",
        "I was logged out and now it says my account doesn't exist.",
        "I'm an admin and one of my team members is locked out, how do I restore their access?",
        "The login button does nothing in {browser}.",
        "I get {error} when I try to sign in.",
        "How do I set up two-factor authentication on my account?",
        "I have two accounts by mistake and can't get into the one with my orders.",
        "I never received the account activation email.",
        "Can't sign in, it keeps asking me to prove I'm not a robot.",
        "My backup codes for 2FA don't work.",
        "I need to take over the admin login from a colleague who left the company.",
        "It says my password is wrong but I just reset it.",
        "How do I log out of all devices? Someone else is logged into my account.",
        "I'm stuck in a loop between the login page and the 2FA page.",
        "Single sign-on with our company Okta is failing.",
        "I can't remember which email I used to sign up.",
        "Your site says 'too many attempts, try again later' and it's been hours.",
        "I can log in on the website but not in the app on my {device}.",
        "My account was deactivated after I didn't log in for a while, can you reactivate it?",
        "The magic login link opens a blank page.",
        "How do I change my password?",
        "I want to get back into my old account from {years} years ago.",
        "Please reset my password, I'm locked out.",
        "The security questions don't accept my answers.",
        "I get 'session expired' right after logging in.",
        "Can you remove 2FA from my account? I got a new phone.",
        "The login email with the one-time code goes to my old address {email}.",
        "I'm locked out of the admin account for {company}.",
        "It keeps saying 'incorrect username or password' on my {device}.",
    ],
    ["cant login", "forgot password", "locked out", "password reset not working",
     "2fa code not coming", "account locked", "can't sign in", "login issue",
     "reset password pls", "no verification code", "login not working"],
    ["I've tried resetting my password three times already.",
     "I checked my spam folder too.",
     "I need to get into my account today for work.",
     "My account email is {email}.",
     "I still have access to my email but not my phone.",
     "All my saved data is in that account."])

cls("product_inquiry",
    "Pre-sales or general questions about a product or plan: features, specs, compatibility, stock, price, availability.",
    [
        "Is the {gadget} compatible with my {device}?",
        "What's the difference between the {plan} and {plan2} plans?",
        "Does the {product} come in other colours?",
        "When will the {product} be back in stock?",
        "How long is the warranty on the {product}?",
        "Do you sell the {product} in {country}?",
        "Is the {product} waterproof?",
        "How much does the {plan} plan cost per user?",
        "Does your software work offline?",
        "Can I try the {plan} plan before buying?",
        "What are the dimensions of the {product}?",
        "Is there a student discount?",
        "Does the {product} come with a charger in the box?",
        "Which size {item} would you recommend for someone who is {height} tall?",
        "Is the {product} the 2023 or the 2024 model?",
        "Can the app export data to Excel?",
        "What's the battery life of the {battery}?",
        "Do you offer volume discounts for businesses?",
        "Is the {product} suitable for kids?",
        "Does the {plan} plan include priority support?",
        "Are your products made from recycled materials?",
        "How many devices can I use with one account?",
        "Do you have a physical store in {city}?",
        "Is there a user limit on the {plan} plan?",
        "What payment methods do you accept?",
        "Does the {gadget} work with Alexa or Google Home?",
        "Is the {product} refurbished or new?",
        "Will the {product} go on sale for Black Friday?",
        "What languages does the app support?",
        "Can I use the {gadget} in {country}? I'm worried about the voltage.",
        "Is there an API available on the {plan} plan?",
        "What's included in the free tier?",
        "Do you sell replacement parts for the {product}?",
        "How does the {product} compare to the {product2}?",
        "Is there a mobile app for {os}?",
        "Does the {plan} plan come with a free trial?",
        "Where is the {product} manufactured?",
        "Can I buy a gift card?",
        "Is my data stored in the EU if I sign up?",
        "What's the maximum file size on the {plan} plan?",
        "Do you offer a discount for non-profits?",
        "Is the {item} available in size {size}?",
        "I'm thinking of buying the {product} for my dad, is it easy to set up?",
        "Can I pre-order the {product}?",
        "Before I buy: what exactly comes in the box with the {product}?",
        "Does the app integrate with {integration}?",
        "How much storage do I get with the {plan} plan?",
        "Is the {plan} plan billed per month or per year, and what does it cost?",
        "What's the price of the {product} with the extended warranty?",
    ],
    ["price of {plan} plan?", "{product} in stock?", "is it waterproof",
     "student discount?", "warranty info", "do you sell in {country}",
     "compatible with {device}?", "{product} colours?", "{product} specs",
     "free trial?", "{plan} vs {plan2}?"],
    ["I'm comparing a few options before I buy.",
     "I'd like to order before the holidays.",
     "It would be a gift.",
     "We're a team of about {seats} people.",
     "I couldn't find this on the product page.",
     "I'm not a customer yet."])

cls("order_status",
    "Where an order is in processing: confirmation, pending/processing/on hold, dispatch timing, changes before it ships.",
    [
        "What's the status of my order {order}?",
        "I placed an order on {date} and haven't heard anything since.",
        "My order has been 'processing' for {days} days.",
        "Has my order {order} shipped yet?",
        "I didn't get an order confirmation email, did my order go through?",
        "When will my order be dispatched?",
        "Can I still change the items in order {order}?",
        "Where is my order? I ordered on {date}.",
        "The website says my order is 'on hold', what does that mean?",
        "Is my order {order} confirmed?",
        "I ordered the {product} {days} days ago, any update?",
        "My account shows no orders but I paid for one on {date}.",
        "Can you check if order {order} has been packed?",
        "Only part of my order has been sent, when will the rest be dispatched?",
        "Why is my order still pending?",
        "The order page says 'awaiting fulfilment', how long does that take?",
        "Can I add an item to my order before it ships?",
        "Could you confirm the estimated dispatch date for {order}?",
        "Is my pre-order of the {product} still coming on the release date?",
        "Order {order} shows 'cancelled' but I didn't cancel it.",
        "I'd like an update on order {order}, please.",
        "Did you receive my order? I only got a payment receipt.",
        "My order status hasn't changed since {date}.",
        "Are there any delays with orders at the moment?",
        "How do I check my order status without an account?",
        "I got an email that my order is 'backordered', when will it be ready?",
        "Order {order} still not shipped after a week. What's going on?",
        "Can you tell me which items from my order are out of stock?",
        "My order was split into two, what's happening with the second part?",
        "I can't find my order in my account history.",
        "Is it possible to speed up processing for {order}? I need it by {future}.",
        "The order has said 'label created' for days, has it actually left your warehouse?",
        "I placed two orders by mistake, can you tell me which one is active?",
        "What does 'payment review' mean on my order?",
        "Hi, just checking in on order {order}. Thanks!",
        "Has my order been confirmed by the seller?",
        "Can you merge my two orders {order} and {order2}?",
        "When will the {product} I ordered be ready for pickup in {city}?",
        "My order number is {order}, could you tell me where it is in the process?",
        "It's been {days} days and my order still says 'preparing'.",
        "Status update please on {order}",
        "Did my order with the discount code go through correctly?",
        "Will my order ship in time to arrive before {future}?",
        "I ordered the {item} in {colour} on {date}, is it on its way yet?",
        "The confirmation email for {order} says 'received' but nothing since. Is it being processed?",
        "How long does it usually take you to process an order?",
        "Can you check whether my order for the {product} went through? I got an error after paying.",
        "My order {order} disappeared from my account, is it still active?",
    ],
    ["order status?", "where is my order", "status of {order}",
     "order update pls", "has it shipped?", "order still processing",
     "{order}??", "order not confirmed", "any update on my order",
     "order pending", "when will my order ship"],
    ["I paid already and the money left my account.",
     "The confirmation page just said thank you, nothing else.",
     "I need it for a birthday on {future}.",
     "I ordered it as a gift.",
     "I checked my spam folder for emails.",
     "The order total was {amount}."])

cls("shipping_delivery",
    "The parcel in transit or at the door: tracking, carriers, delivery times and costs, address changes, lost/damaged/misdelivered parcels, customs.",
    [
        "My package says delivered but I never received it.",
        "The tracking number {tracking} doesn't work on the {carrier} website.",
        "How much is shipping to {country}?",
        "Can I change the delivery address for order {order}?",
        "The parcel arrived with the box crushed.",
        "The courier left my parcel outside in the rain.",
        "Do you offer express shipping?",
        "{carrier} says the address is incomplete, what should I do?",
        "My package has been stuck in customs for a week.",
        "Can I pick up my parcel from a locker instead?",
        "The tracking hasn't updated since {date}.",
        "Do I have to pay customs fees for delivery to {country}?",
        "The delivery driver never came even though I was home all day.",
        "Can you deliver on a Saturday?",
        "The package was delivered to the wrong address.",
        "How long does standard delivery take to {city}?",
        "I was charged for shipping even though my order was over the free shipping threshold.",
        "{carrier} returned my parcel to sender, can you send it again?",
        "The box arrived opened and some items were missing.",
        "Can I choose a delivery time slot?",
        "Do you ship to PO boxes?",
        "Tracking shows my package went to {city} instead of my city.",
        "My neighbour got a parcel with my name on it but it isn't what I ordered.",
        "How can I track my parcel with {carrier}?",
        "Why is delivery taking {days} days? It said 2-3 days at checkout.",
        "The parcel is marked 'delivery failed', how do I rearrange it?",
        "Can you ship with {carrier} instead?",
        "Which courier is delivering my order {order}?",
        "I'm going on holiday, can you hold my delivery until {future}?",
        "The delivery note says 'left with neighbour' but none of my neighbours have it.",
        "My package is lost. What now?",
        "Do you ship internationally?",
        "The estimated delivery date keeps moving.",
        "Please deliver to my office address instead.",
        "Can I collect the parcel from the {carrier} depot?",
        "Delivery was supposed to be on {date}, still nothing.",
        "There's no tracking number in my shipping confirmation.",
        "The courier needs a signature but I'm at work. Can it be left in a safe place?",
        "The package has shown 'out for delivery' for three days now.",
        "What are your delivery options for heavy items like the {product}?",
        "I received someone else's package instead of mine.",
        "Can I upgrade my shipping to next-day delivery?",
        "Shipping to {country} isn't available in the checkout dropdown.",
        "The courier threw my package over the fence.",
        "Tracking {tracking} says 'exception', what does that mean?",
        "The {product} was delivered but the tracking still says in transit.",
        "My parcel from order {order} has been sitting at the {carrier} hub in {city} since {date}.",
        "How much does next-day delivery cost?",
        "The delivery address on my shipping label is missing the flat number.",
    ],
    ["package not delivered", "tracking not working", "delivered to wrong address",
     "shipping cost to {country}?", "lost parcel", "where is my package",
     "delivery late", "change delivery address", "parcel missing",
     "tracking {tracking}", "no tracking update"],
    ["I was home all day and no one rang the bell.",
     "The {carrier} hotline told me to contact you.",
     "I live in an apartment building with a concierge.",
     "The tracking number is {tracking}.",
     "It was supposed to arrive by {date}.",
     "The shipping confirmation came on {date}."])

cls("returns_exchange",
    "Sending an item back or swapping it (size, colour, model, faulty unit): return policy, labels, eligibility, replacement.",
    [
        "How do I return the {product}?",
        "Can I exchange the {item} for a size {size}?",
        "I'd like to return order {order}, it doesn't fit.",
        "What's your return policy?",
        "Can you send me a return label?",
        "I received the wrong colour, I want to swap it for {colour}.",
        "Is it too late to return something I bought on {date}?",
        "The return portal says my order isn't eligible for return.",
        "Do I have to pay for return shipping?",
        "Can I exchange the {product} for the {product2} and pay the difference?",
        "I dropped off my return at {carrier} on {date}, did you receive it?",
        "The {product} is faulty, I'd like a replacement unit.",
        "Can I return an item I got as a gift without the receipt?",
        "How long do I have to return an opened item?",
        "I want to swap my {product} for a different model.",
        "Where do I send returns from {country}?",
        "I lost the return label, can you resend it?",
        "Can I return items at your store in {city}?",
        "I ordered two sizes to try on, how do I send one back?",
        "The replacement you sent is also faulty.",
        "Can I return a sale item?",
        "I started a return but want to change it to an exchange instead.",
        "Return request for {order}: the item arrived broken.",
        "Does the box need to be unopened to return it?",
        "Do you do exchanges or only refunds?",
        "My return was rejected, why?",
        "The {item} is too small, can I get the next size up?",
        "I need a QR code for the return, I can't print the label.",
        "Can you arrange a pickup for my return? The {product} is heavy.",
        "How should I package the {product} to send it back?",
        "The return window in my account says closed but it's only been {days} days.",
        "Please exchange my {product}, you sent the wrong model.",
        "I'd like to return part of my order, not all of it.",
        "I want to return the {product}, I changed my mind.",
        "Can I exchange for something in a different price range?",
        "Is there a restocking fee for returns?",
        "I got two of the same item in my order, how do I return the extra one?",
        "The return label is for the wrong country.",
        "Can I get an extension on the return period? I was travelling.",
        "What's the status of my exchange for {order}?",
        "Swap the {item} for a {colour} one please",
        "I'd like to send the {product} back under warranty.",
        "What address do I put on the return parcel?",
        "Can I return it at a {carrier} drop-off point or only at the post office?",
        "The {item} in size {size} doesn't fit, I'd like to exchange it for size {size2}.",
        "The {gadget} stopped working after {days} days, can I swap it for a new one?",
        "Can I return the {product} if I've already used it a couple of times?",
        "I'd like to send back the {item} and get the same one in {colour}.",
    ],
    ["return label pls", "how to return", "exchange size", "return policy?",
     "want to exchange", "return {order}", "wrong size, exchange",
     "send it back how", "return an item", "swap for {colour}",
     "need a replacement"],
    ["The item is unused and still has the tags on.",
     "I still have the original packaging.",
     "I bought it on {date}.",
     "The size guide on the website was misleading.",
     "It's within the 30-day window.",
     "I've attached a photo of the defect."])

cls("cancellation",
    "Ending something: cancel a subscription, membership, trial, order or the whole account; stop auto-renewal.",
    [
        "Please cancel my subscription.",
        "How do I cancel my account?",
        "I want to cancel order {order}.",
        "Cancel my {plan} membership effective immediately.",
        "I don't want to renew, please turn off auto-renewal.",
        "Can I cancel before the trial ends so I'm not charged?",
        "I want to close my account permanently.",
        "Where's the cancel button? I can't find it anywhere.",
        "If I cancel now, do I keep access until the end of the month?",
        "Cancel my order please, I ordered by mistake.",
        "I tried to cancel in the app but it shows {error}.",
        "Stop my subscription, I'm moving to a competitor.",
        "Is there a cancellation fee?",
        "I'm no longer using the service, please cancel it.",
        "I cancelled last month but it still says I'm subscribed.",
        "Please confirm my cancellation in writing.",
        "How do I cancel a subscription I bought through the App Store?",
        "Cancel the recurring order for the {product}.",
        "We're closing our business and need to cancel all {seats} seats.",
        "Can I cancel my order if it has already shipped?",
        "I want to end my contract early.",
        "Please don't renew my annual plan on {future}.",
        "Cancel everything, I'm done.",
        "What happens to my files if I cancel?",
        "Unsubscribe me from the {plan} plan, I want to stop paying.",
        "I signed up by accident, please cancel it.",
        "My mother passed away, how do I cancel her subscription?",
        "Cancel my pre-order for the {product}.",
        "How much notice do I need to give to cancel?",
        "I'd like to cancel my account and have my card details removed.",
        "Terminate my membership please.",
        "Can you cancel order {order}? I'll place a new one with the right address.",
        "I cancelled but still got a renewal reminder email, is it really cancelled?",
        "Please cancel my free trial.",
        "I need to cancel the service for financial reasons.",
        "Cancel my monthly box.",
        "I want to stop the auto-renew and let it expire.",
        "Can I cancel just one item from my order?",
        "Can I cancel and rejoin later without losing my history?",
        "The cancel link in your email doesn't work.",
        "I would like to cancel my subscription as it's too expensive for me.",
        "Please close my account and stop all future charges.",
        "Cancel order {order} before it ships please!!",
        "How do I cancel the family plan for all members?",
        "I want to quit the {plan} subscription at the end of this billing period.",
        "Please cancel the {addon} add-on and the subscription itself.",
        "Don't charge me again, I want out of this membership.",
        "I ordered the {product} by mistake on {date}, please cancel it before it's sent.",
    ],
    ["cancel subscription", "cancel my order", "cancel pls", "cancel account",
     "stop auto renew", "how to cancel", "cancel {order}", "end membership",
     "close my account", "cancel trial", "unsubscribe from {plan}"],
    ["I've been a member for {years} years but it's time to move on.",
     "Nothing personal, I just don't use it anymore.",
     "I don't want to be charged again.",
     "Please confirm by email once it's done.",
     "Budgets are tight this year.",
     "I found a cheaper alternative."])

cls("subscription_change",
    "Changing an existing plan without ending it: upgrade, downgrade, switch billing period, seats, add-ons, pause, skip.",
    [
        "How do I upgrade from {plan} to {plan2}?",
        "I'd like to downgrade to the {plan} plan.",
        "Can I switch to annual billing?",
        "Please add {seats} more seats to our team plan.",
        "Can I pause my subscription for a couple of months?",
        "If I upgrade mid-month, will I be charged the full price?",
        "Switch me to the monthly plan instead of yearly please.",
        "How do I remove users from our subscription?",
        "I want to move from the family plan to an individual plan.",
        "Can I change my plan without losing my data?",
        "Upgrade my account to {plan2} please.",
        "We need to reduce our seats from {seats} to {seats2}.",
        "Can I change my delivery frequency from weekly to monthly?",
        "Is it possible to skip next month's box?",
        "Can I upgrade to {plan} for just one month?",
        "How do I change my subscription tier in the app?",
        "Can I move my subscription to a different account?",
        "Can I add the {addon} add-on to my current plan?",
        "Remove the {addon} add-on from my subscription, but keep the plan.",
        "When does the downgrade take effect?",
        "I upgraded to {plan2} but I still only see the {plan} features.",
        "Can we move to the non-profit version of the {plan} plan?",
        "Change my plan to the cheaper one please.",
        "I've graduated, so I need to switch from the student plan to the regular one.",
        "How do I resume my paused subscription?",
        "If I downgrade, do I keep my annual discount?",
        "Is there a plan between {plan} and {plan2}? I'd switch to it.",
        "We're growing, how do we move up to the Enterprise tier?",
        "I'd like to convert my trial into a paid {plan} plan.",
        "Switch my box size from large to small.",
        "Can I move my renewal date to the 1st of the month?",
        "My plan changed to {plan} on its own, I want {plan2} back.",
        "Add my partner to my subscription.",
        "How do I switch from per-user pricing to a flat plan?",
        "I'd like to reduce my storage plan from 2 TB to 200 GB.",
        "Can I upgrade only one user to {plan2}?",
        "Downgrade me at the end of the current billing period please.",
        "How do I move my subscription from the App Store to a direct one?",
        "I'm on a legacy plan, can I move to the new {plan} without losing my price?",
        "Please change our subscription from {plan} to {plan2} starting next month.",
        "Can I swap one of the products in my subscription box?",
        "The upgrade didn't go through, I'm still on {plan}.",
        "What would I lose if I downgrade to {plan}?",
        "Can you prorate my upgrade to {plan2}?",
        "I want to keep my subscription but go from {seats} users to {seats2}.",
        "Please switch my {plan} plan to the yearly option to save money.",
        "Can I add another family member to my {plan} plan?",
        "Change my subscription so it includes {addon}.",
    ],
    ["upgrade plan", "downgrade to {plan}", "switch to annual", "add seats",
     "pause subscription", "change plan", "upgrade to {plan2}", "remove a seat",
     "switch to monthly", "skip next box", "change my plan to {plan}"],
    ["Our team has grown a lot this quarter.",
     "We don't need all the features anymore.",
     "I'm trying to save a bit of money.",
     "I'm the admin on our account.",
     "I'd like the change to apply from the next billing cycle.",
     "I don't want to cancel, just change it."])

cls("feature_request",
    "Suggesting something the product does not do yet: new features, integrations, platforms, options.",
    [
        "It would be great if you added {feature}.",
        "Please add {feature} to the app.",
        "Any plans to support {feature}?",
        "Suggestion: {feature}.",
        "I'd love to see {feature} in a future update.",
        "Can you make it possible to {feature_verb}?",
        "Feature request: {feature}",
        "Are you working on {feature}? It's the one thing missing for us.",
        "Would you consider adding {feature}? Your competitor has it.",
        "Please bring back the old {section} layout as an option.",
        "We'd pay extra for {feature}.",
        "Could you let users {feature_verb}?",
        "It would save me a lot of time if I could {feature_verb}.",
        "Idea for the app: {feature}.",
        "Is there a roadmap? I'm waiting for {feature}.",
        "Please consider {feature} for the {plan} plan.",
        "Make the app available on {os} please!",
        "I wish the app had {feature}.",
        "Can you add an option to turn off {thing}?",
        "Small suggestion: {feature} would be awesome.",
        "Our team voted and {feature} is our top wish.",
        "It'd be nice to {feature_verb}.",
        "Why can't I {feature_verb}? Please add that.",
        "Would love an option to {feature_verb}.",
        "add {feature} pls",
        "I'd like to request {feature} for accessibility reasons.",
        "Could the {gadget} app get an update that adds {feature}?",
        "Please upvote my request for {feature}.",
        "Have you thought about {feature}?",
        "Would it be possible to {feature_verb} in the next release?",
        "Missing feature: {feature}. Everything else is great.",
        "The app really needs {feature}.",
        "Can you please add {language} as a language?",
        "I'd like more control over notifications, for example {feature}.",
        "A feature that lets me {feature_verb} would make this perfect.",
        "When are you adding {feature}? It was mentioned on your blog.",
        "Please integrate with {integration}.",
        "Could you add a way to {feature_verb}?",
        "My suggestion is to let people {feature_verb}.",
        "Wouldn't it be cool if the app could {feature_verb}?",
        "I'm a power user and really need {feature}.",
        "Please add {feature}, I'd switch to the {plan2} plan if you did.",
        "An integration with {integration} would be a game changer.",
        "Consider adding {feature}, lots of people in the forum are asking for it.",
        "It would help if the {section} had {feature}.",
        "Is a {integration} integration on the roadmap?",
        "Could you build {feature} into the {section}?",
        "One request: please let us {feature_verb} from the {section}.",
    ],
    ["pls add dark mode", "feature request", "need {feature}",
     "suggestion for the app", "add {integration} integration",
     "{os} app when?", "idea: {feature}", "please add {feature}",
     "wish list: {feature}"],
    ["I use the app every day for work.",
     "Otherwise I love the product.",
     "Several of my colleagues would use this too.",
     "This would really help people with visual impairments.",
     "I've seen this in other apps.",
     "Right now I have to do it by hand."])

cls("complaint",
    "Dissatisfaction with the company or service (staff, wait times, quality, communication) where the main point is the grievance itself.",
    [
        "I'm very unhappy with the service I received.",
        "Your customer service is terrible, I've been waiting {days} days for a reply.",
        "The agent I spoke to on {date} was rude and hung up on me.",
        "This is the third time my order has been late. Unacceptable.",
        "I want to make a formal complaint.",
        "Nobody answers the phone, I've been on hold for an hour.",
        "The quality of the {product} is really poor for the price.",
        "You keep sending me promotional emails and it's driving me mad.",
        "I was promised a callback that never happened.",
        "Your chatbot is useless, I need to speak to a human.",
        "I've been a loyal customer for {years} years and this is how you treat me?",
        "The price increase without any notice is outrageous.",
        "Every time I contact you I get a different answer.",
        "I want to speak to a manager.",
        "Your app update ruined everything, it was perfect before.",
        "Extremely disappointed with how my issue was handled.",
        "Terrible experience from start to finish.",
        "I've explained my problem {n} times and nobody has fixed it.",
        "Your delivery driver was rude and aggressive.",
        "The {product} looks nothing like the pictures on your website.",
        "You closed my ticket without solving anything.",
        "This company is a joke.",
        "I'll be leaving a bad review if this isn't sorted out.",
        "How is it possible that nobody can help me?",
        "The staff in your {city} store were unhelpful and dismissive.",
        "Your sales team misled me about what the {plan} plan includes.",
        "I'm sick of the constant outages.",
        "I'm filing a complaint about how long it takes to get a response.",
        "Your hidden fees are a scam.",
        "I expected much better from a company like yours.",
        "I've been transferred between departments {n} times today.",
        "Your support email sends an auto-reply and then nothing. Awful.",
        "Worst customer service I've ever experienced.",
        "Your agent promised me a discount and then denied it.",
        "The packaging was excessive and wasteful, really disappointed.",
        "I'm escalating this because nobody has responded to ticket {ticket}.",
        "Your ads are misleading.",
        "I'm disgusted by the way your agent spoke to me.",
        "I waited in the {city} store for 40 minutes and nobody served me.",
        "Really frustrated that the {gadget} broke again after the repair.",
        "You've wasted hours of my time.",
        "I was treated unfairly and I want an explanation.",
        "Honestly the service has gone downhill this year.",
        "Not happy. At all.",
        "Nobody told me the {plan} plan was being discontinued, this is poor communication.",
        "{agent} from your support team was condescending and didn't listen.",
        "It took {days} days to get a one-line answer to ticket {ticket}.",
        "I'm fed up with being ignored by your support team.",
    ],
    ["terrible service", "i want to complain", "very disappointed",
     "speak to a manager", "worst support ever", "formal complaint",
     "unacceptable", "not happy", "awful experience", "you people are useless",
     "so frustrated with you"],
    ["This has honestly ruined my week.",
     "I expect a proper response this time, not a template.",
     "I've already told all my friends about this.",
     "I've been a customer for {years} years.",
     "Ticket number {ticket}, for reference.",
     "I'm seriously thinking of going elsewhere."])

cls("data_privacy",
    "Personal data and privacy: deletion, access/export requests (GDPR/CCPA), consent, marketing opt-out, data sharing, breaches, cookies.",
    [
        "Please delete all my personal data.",
        "I want a copy of all the data you hold about me (GDPR subject access request).",
        "How do I opt out of marketing emails?",
        "Who do you share my data with?",
        "Do you sell my information to third parties?",
        "I want to exercise my right to be forgotten.",
        "Where is my data stored?",
        "How long do you keep my personal information?",
        "Please remove my phone number from your records.",
        "I got an email about a data breach, was my information affected?",
        "How do I export my personal data?",
        "How do I turn off tracking cookies on your site?",
        "I never consented to SMS marketing, take my number off your list.",
        "Is your service GDPR compliant?",
        "Do you have a Data Processing Agreement we can sign?",
        "Can you confirm my data was deleted after I closed my account?",
        "Why do you need my date of birth?",
        "I want to withdraw my consent for data processing.",
        "Please send me a copy of your privacy policy.",
        "Who is your data protection officer?",
        "Is my card information stored on your servers?",
        "I received an email meant for another customer with their personal details.",
        "How do I stop the app from accessing my location?",
        "Do you use my messages to train AI models?",
        "Please correct the wrong personal details you have on file for me.",
        "What data does the {gadget} collect about me?",
        "Is my data encrypted?",
        "Can your staff see my files?",
        "Under the CCPA, please do not sell my personal information.",
        "Unsubscribe me from your newsletter and remove my email {email} from your lists.",
        "My ex still has access to data on my account, how do I remove it?",
        "Do you transfer personal data outside the EU?",
        "Can I get a list of the cookies you use?",
        "Someone signed up with my email address, please delete that account and my details.",
        "Why does your app ask for access to my contacts?",
        "How do I delete my search history?",
        "I'm worried about the changes to your privacy policy.",
        "Delete my account and all associated data under GDPR Article 17.",
        "Our legal team needs your list of sub-processors.",
        "Does the {listening} record audio when it isn't being used?",
        "Where can I download the data export I requested on {date}?",
        "Please anonymise my reviews.",
        "Do you share my purchase history with advertisers?",
        "I'd like you to restrict processing of my data for now.",
        "How do I turn off personalised ads?",
        "You sent my invoice to the wrong person, that's a data protection problem.",
        "Which third-party trackers does your app use on my {device}?",
        "I want all recordings from my {listening} deleted from your servers.",
    ],
    ["delete my data", "gdpr request", "unsubscribe me", "privacy policy?",
     "stop marketing emails", "data export", "remove my info",
     "who has my data", "opt out of tracking", "right to be forgotten",
     "subject access request"],
    ["I take my privacy very seriously.",
     "I'm based in the EU so GDPR applies.",
     "Please confirm in writing once this is done.",
     "I have to check this for our company's compliance.",
     "My email is {email}.",
     "I expect a reply within the legal deadline of one month."])

cls("feedback_praise",
    "Positive feedback, thanks or compliments, with no request that needs action.",
    [
        "Just wanted to say thanks, {agent} was incredibly helpful.",
        "Love the new update, great job!",
        "The {product} is fantastic, best purchase this year.",
        "Your support team solved my issue in minutes. Thank you!",
        "Delivery was super fast, really impressed.",
        "Great service as always.",
        "Thank you for sorting out my refund so quickly.",
        "The new {section} design is much cleaner, well done.",
        "Kudos to the team for {feature}, it works perfectly.",
        "I've recommended you to all my friends.",
        "Really happy with my {plan} subscription.",
        "{agent} went above and beyond, please pass on my thanks.",
        "Five stars from me!",
        "Thanks for the quick response yesterday.",
        "Honestly the best customer service I've dealt with.",
        "The {gadget} works perfectly with my {device}, thanks!",
        "Just a note to say I really appreciate the product.",
        "The packaging was lovely and eco-friendly.",
        "Thank you for replacing my {product} without any hassle.",
        "Your app has made my work so much easier.",
        "Keep up the good work!",
        "Thanks, that fixed it!",
        "I was sceptical at first but the {product} is amazing.",
        "Returning an item was really smooth, great experience.",
        "I love how simple the checkout is.",
        "Brilliant product, brilliant service.",
        "Thanks for listening to feedback and adding {feature}!",
        "I'd like to give some positive feedback about {agent} in your {city} store.",
        "Everything arrived in perfect condition, thank you.",
        "The onboarding was really smooth.",
        "This is the best app in its category, no contest.",
        "Super helpful chat support today, thank you.",
        "You guys rock.",
        "Just renewed for another year, very happy customer.",
        "Impressed by how quickly you fixed the outage.",
        "Thank you for the birthday discount, such a nice touch.",
        "My whole team loves the new features.",
        "Thanks for making cancelling so easy, I'll be back for sure.",
        "The quality of the {product} exceeded my expectations.",
        "The new pricing is fair, appreciated.",
        "Really appreciate the handwritten note in my package.",
        "Your tutorial videos are excellent.",
        "Big thanks to whoever designed the {section}.",
        "{years} years a customer and still happy.",
        "Compliments to your support team for their patience with me.",
        "The {product} arrived a day early and works great.",
        "Thank you {agent} for explaining my bill so clearly.",
        "I just wanted to let you know the {plan} plan is worth every penny.",
    ],
    ["thanks!", "great service", "love it", "thank you so much",
     "awesome app", "5 stars", "well done team", "great job {agent}",
     "thx for the help", "amazing support", "love the {product}"],
    ["I rarely write these messages but felt I had to.",
     "I've been a customer for {years} years.",
     "It really made my day.",
     "I'll definitely be ordering again.",
     "Please pass this on to the team.",
     "No reply needed."])

# Edge frames: each borrows the vocabulary of a neighbouring class (refund
# words in a billing question, delivery words in a complaint, ...) while the
# label stays the customer's main intent. They keep the task from being
# solvable by one keyword per class.
EDGE_FRAMES = {
    "billing": [
        "I was charged {amount} after I cancelled. What exactly is this charge for?",
        "My payment went through but invoice {invoice} still says unpaid in my account.",
        "I upgraded to {plan2} mid-month, why does my bill show two separate charges?",
        "The credit from my last refund isn't shown on this month's invoice.",
        "I ordered the {product} on {date} and the amount on my card is higher than the order total.",
        "Does my annual subscription renew at the same price? I need to know what I'll be billed.",
        "The delivery fee on my invoice is {amount} but checkout said shipping was free.",
    ],
    "payment_issue": [
        "I want to upgrade to {plan2} but my payment keeps failing.",
        "I can't renew my subscription, the card is declined every time.",
        "Order {order} was cancelled automatically because the payment didn't go through.",
        "I'm trying to pay invoice {invoice} but the payment link gives {error}.",
        "The refund went back to my card but now that same card is declined on your site.",
        "The app crashes at the payment screen on my {device}, so I can't pay.",
        "Your system won't take my payment for the {product}, it says the card has expired but it hasn't.",
    ],
    "refund_request": [
        "The package never arrived and tracking hasn't moved since {date}. I'd like my money back, not a replacement.",
        "I cancelled order {order} before it shipped, so please refund me.",
        "I downgraded to {plan} but was billed for {plan2}, please refund the difference.",
        "Your service has been awful this month and I want a refund for it.",
        "Your warehouse received my return on {date}, please release my money.",
        "My payment failed twice but I was still charged both times, please give that money back.",
        "The {product} arrived damaged and I'd rather have a refund than an exchange.",
    ],
    "technical_support": [
        "The checkout page doesn't load in {browser}, it's just a spinner.",
        "After I log in, the {section} shows {error}.",
        "The order history page crashes the app on my {device}.",
        "I can't download my invoice, the PDF link is broken.",
        "The {battery} I received won't charge, is there a fix I can try?",
        "The data export button does nothing when I click it.",
        "The tracking page in your app shows {error} instead of my parcel.",
    ],
    "account_access": [
        "I can't log in to check my order status.",
        "I can't log in, so I can't even see my invoices.",
        "I reset my password but the app on my {device} still won't let me in.",
        "Since the update I can't log in on my {device}, it says {error}.",
        "After my subscription lapsed I can't sign in anymore.",
        "I want to update my card but I'm locked out of my account.",
        "The 2FA text goes to my old number so I can't get into my account to manage my plan.",
    ],
    "product_inquiry": [
        "If I buy the {plan} plan, can I cancel any time?",
        "Does the {plan} plan include {feature}?",
        "Are there any extra fees on the {plan} plan besides the monthly price?",
        "What's the refund policy if I buy the annual {plan} plan?",
        "Can the {gadget} be delivered to {country}, and does it work there?",
        "Is the {product} covered if it breaks, and for how long?",
        "Can I pay for the {plan} plan with PayPal?",
    ],
    "order_status": [
        "I paid for order {order} on {date}, is it being processed or did the payment fail?",
        "Can you confirm order {order} hasn't shipped yet? I might still change it.",
        "My order for the {product} shows 'shipped' but there's no tracking number yet.",
        "I was charged for {order} but the order status still says 'awaiting payment'.",
        "I ordered a replacement {product} on {date}, has it been processed?",
        "I can't see order {order} in the app, has it been placed?",
        "My order {order} was supposed to ship on {date}, is it delayed?",
    ],
    "shipping_delivery": [
        "The {product} arrived damaged because of the courier, what should I do?",
        "Why did express delivery take a week? I paid {amount} for it.",
        "My order {order} says shipped on {date} but {carrier} has no record of it.",
        "Can I change the shipping address for my subscription box?",
        "The parcel for order {order} is stuck and my refund depends on it arriving back.",
        "Your courier left the parcel at the wrong house and now it's gone.",
        "The return parcel I got from you was sent to my old address.",
    ],
    "returns_exchange": [
        "I want to return the {product} and get the money back on my card.",
        "The {item} was damaged in shipping, can I exchange it?",
        "I sent the {item} back on {date}, when will the exchange be shipped?",
        "Your agent said I could exchange the {product} but the return portal won't let me.",
        "I was charged {amount} for the return label, is that normal?",
        "The {product} has a defect, can I send it back and get a new one?",
        "I cancelled my subscription box, how do I send back the last one?",
    ],
    "cancellation": [
        "I was charged again even though I cancelled, please make sure it's really cancelled this time.",
        "Cancel order {order}, it's been stuck in processing for {days} days.",
        "Please cancel, don't downgrade me, I don't need any plan.",
        "The app keeps crashing so I'd like to cancel my subscription.",
        "I moved to {country} and want to cancel the delivery subscription.",
        "Cancel my membership before the next payment of {amount} goes out.",
        "I'm unhappy with the service and want to cancel my account.",
    ],
    "subscription_change": [
        "I want to downgrade to {plan} instead of cancelling.",
        "Can I upgrade to {plan2} and pay the difference by invoice?",
        "I'd like to upgrade to {plan2} to get {feature}.",
        "My card was charged for {plan2}, but I asked to switch to {plan}. Please change it.",
        "Can I switch plans now or only after my current billing period?",
        "Please move me to the plan with {addon}.",
        "I'd like to change the delivery day of my subscription box.",
    ],
    "feature_request": [
        "Please add a way to pause my subscription instead of cancelling.",
        "It would be great if I could download all my invoices at once.",
        "Please let us choose the delivery day at checkout.",
        "Could you add an option to delete my data myself from the settings?",
        "Please add Apple Pay as a payment option.",
        "Could you add order tracking notifications in the app?",
        "Please let me log in with my fingerprint instead of a password.",
    ],
    "complaint": [
        "I was charged twice and it took three weeks to get my money back. Disgraceful.",
        "Your cancellation process is deliberately hard, it's shameful.",
        "My parcel was late again and your support just sent me a template reply.",
        "The app has been crashing for weeks and nobody seems to care.",
        "I've been locked out for days and your support doesn't respond.",
        "Your return process is a nightmare.",
        "Stop sending me promotional emails, I unsubscribed twice already.",
    ],
    "data_privacy": [
        "Please close my account and erase all the data you hold on me.",
        "Why are my order details visible to other users?",
        "I want a copy of all personal data you store, including my order history.",
        "Someone logged into my account from another country, has my data been leaked?",
        "My refund confirmation email showed another customer's name and address.",
        "Why does your delivery partner {carrier} have my phone number?",
        "Delete the card details and addresses you have saved for me.",
    ],
    "feedback_praise": [
        "The refund arrived in two days, impressive!",
        "The courier was friendly and the parcel arrived early.",
        "Upgrading to {plan2} was so easy, thanks.",
        "Your team fixed the login issue quickly, much appreciated.",
        "Thanks for the clear invoice layout, our accountant loves it.",
        "The exchange was processed super quickly, thank you!",
        "I had a problem with my order but {agent} sorted it in no time. Great job.",
    ],
}

# Short multi-sentence stories (30-50 words), the body of the email form.
STORIES = {
    "billing": [
        "I signed up for the {plan} plan at {amount} a month. This month my card was charged {amount2} and there's nothing in my account that explains the difference. Could you break the charge down for me?",
        "Our company needs proper VAT invoices for every payment. The invoices we get only show my personal name, not {company}, and no VAT number. Can you reissue the last three with our details and VAT number {vat}?",
        "I noticed a charge of {amount} from {descriptor} on my statement dated {date}. I don't remember buying anything that day. Is this from you, and if so, what was it for?",
        "Our finance team is asking for the invoice for order {order}. I can see the order in my account but there's no invoice or receipt attached to it. Where can I download it?",
        "We moved offices last month. Could you update the billing address on our account so the next invoice shows the new address? The old one is still on invoice {invoice}.",
        "I was expecting my free trial to run until the end of the month, but I was billed {amount} on {date}. Can you tell me when the paid period actually started?",
    ],
    "payment_issue": [
        "I've been trying to pay for order {order} since {date}. Every time I reach the last step the page says the payment was declined. My bank says they see no attempt at all on their side. What should I do?",
        "My {card} expired, so I tried to add the new one in my account settings. The form keeps saying 'card number invalid', even though I've typed it carefully several times. Meanwhile my subscription payment is overdue.",
        "I got an email saying my renewal payment of {amount} failed. I've topped up my account and the card works everywhere else. Can you retry the payment or tell me how to pay manually?",
        "At checkout I chose PayPal, logged in and approved the payment, but then I was sent back to the cart with an error. The order doesn't exist and PayPal shows nothing. Can you help me complete the purchase?",
        "Our office tried to pay invoice {invoice} by card today. It failed with {error}, and we tried two different company cards with the same result. Is something wrong with your payment system?",
        "The 3D Secure screen from my bank never appears, the payment just spins and then fails. I've tried {browser} and the app on my {device}. How else can I pay?",
    ],
    "refund_request": [
        "I returned the {product} on {date} and the tracking shows you received it. Your policy says refunds take 5-7 days, but it's been over two weeks now. Please refund the {amount} to my card.",
        "I was charged {amount} twice for order {order}. I only placed one order, I've checked my account. Please refund the second payment as soon as possible.",
        "My subscription renewed on {date} even though I haven't used the service in months. I know I should have cancelled earlier, but could you refund this renewal? I'll cancel right away.",
        "The {product} I ordered never arrived. The tracking stopped updating weeks ago and the courier says it's lost. I'm not interested in a replacement anymore, please refund my money.",
        "I bought the {product} for {amount} and a week later it's on sale for {amount2}. Other shops refund the difference in this case. Could you do the same?",
        "Your agent {agent} confirmed on the phone that I'd get a refund of {amount} for the damaged item. I got the confirmation email, but the money hasn't appeared on my statement. When will it arrive?",
    ],
    "technical_support": [
        "Since the update yesterday the app crashes as soon as I open it on my {device}. I've restarted the phone and reinstalled the app, but it still closes after a second. Is there a fix?",
        "I'm trying to upload a report in the {section}, but every time I get {error}. The file is a normal PDF, about 3 MB. It worked last week. Could you look into this?",
        "My {gadget} was working fine until the firmware update. Now it won't connect to wifi at all, the light just blinks orange. I've tried resetting it twice.",
        "The website doesn't load properly in {browser} on {os}. The menu is missing and the buttons don't work. It's fine in other browsers, but I need to use this one at work.",
        "Sync between my phone and my laptop stopped working a few days ago. Changes I make on my {device} never show up on the other device. I'm logged in with the same account on both.",
        "Our integration with {integration} stopped working this morning. The logs show {error} on every request. Nothing changed on our side. Is there an outage?",
    ],
    "account_access": [
        "I've been trying to log in since {date}, but it keeps saying my password is wrong. I reset it twice and the reset emails arrive, but the new password doesn't work either.",
        "I got a new phone and didn't move my authenticator app. Now I can't get the two-factor code and I'm locked out. How can I prove it's my account and get back in?",
        "Someone changed the email address on my account without my permission. I can't log in anymore and the password reset goes to their address. Please help me get my account back.",
        "My account was locked after too many failed attempts. The message says to try again in 30 minutes, but it's been a whole day. I need access for work.",
        "I used to log in with my Google account, but that Google account was deleted. I still use the same email, {email}. Is there a way to set a password and log in?",
        "One of our team members left the company and was the only admin. Now nobody can get into the admin settings for {company}. How can we regain access?",
    ],
    "product_inquiry": [
        "I'm looking at the {product} as a gift for my partner. Does it come in {colour}, and is it in stock? I'd like it to arrive before their birthday.",
        "We're a small team of {seats} people and considering your {plan} plan. Does it include shared folders and admin controls, or do we need {plan2} for that? Also, is there a discount for annual billing?",
        "Before I order the {gadget}: will it work with my {device}? The product page only mentions a few models and mine isn't listed.",
        "I'm comparing the {product} with the {product2}. What's the main difference apart from the price? I mostly need something reliable for everyday use.",
        "Do you ship the {product} to {country}, and does the warranty still apply there? I'd hate to buy it and then not be able to get it repaired.",
        "Is the {plan} plan suitable for a non-profit? We have about {seats} volunteers who would need access. Do you offer any discount for charities?",
    ],
    "order_status": [
        "I placed order {order} on {date} and paid right away. The confirmation email arrived, but since then the status has been 'processing' and nothing has changed. Could you check if there's a problem?",
        "I ordered the {product} last week and need it for a birthday on {future}. The order page still says 'awaiting dispatch'. Will it ship in time?",
        "I paid for my order but never got a confirmation email, and I can't see the order in my account. The money has left my account though. Did the order go through?",
        "My order {order} shows two items as 'sent' and one as 'pending'. When will the last item be dispatched? Will it come in a separate box?",
        "I got an email that my order {order} is on hold for 'payment review'. What does that mean and how long does it take? I'd like it to ship soon.",
        "I placed an order by mistake yesterday and then placed the correct one. Could you tell me which of {order} and {order2} is being processed?",
    ],
    "shipping_delivery": [
        "The tracking for my parcel says it was delivered on {date} at 2pm, but I was home and nothing arrived. I've checked with my neighbours and the building reception. What can you do?",
        "My package has been stuck at the {carrier} depot in {city} since {date}. The tracking number {tracking} hasn't updated in a week. Can you contact the courier?",
        "I'm moving next week. Can you change the delivery address for order {order}? It hasn't been delivered yet and {carrier} says only the sender can change it.",
        "The courier left my parcel outside in the rain and the box was soaked. The {product} inside seems fine, but I'm not happy about how it was delivered.",
        "How much does shipping to {country} cost, and how long does it usually take? I'd also like to know if I'll have to pay customs fees on arrival.",
        "{carrier} tried to deliver while I was at work and took the parcel back. The card says I can rearrange delivery, but the website asks for a code I don't have. Can you help?",
    ],
    "returns_exchange": [
        "I bought the {item} in size {size} but it's too small. I'd like to exchange it for the next size up. Do I need to send it back first, or can you send the new one right away?",
        "I want to return the {product}. It works, but it's not what I expected. The box is unopened apart from the outer wrapping. How do I get a return label?",
        "The {product} I received has a scratch on the front. I'd prefer a replacement rather than a refund. What do you need from me, photos?",
        "I sent back the {item} on {date} with {carrier} and asked for a {colour} one instead. I haven't heard anything since. Has the exchange been processed?",
        "The return portal says my order {order} is not eligible for return, but I bought it {days} days ago and your policy says 30 days. Could you check?",
        "I got the {item} as a gift and it doesn't fit. I don't have the receipt, only the packing slip. Can I still exchange it for another size?",
    ],
    "cancellation": [
        "I'd like to cancel my {plan} subscription. I've looked through the settings and the help centre but I can't find a cancel button anywhere. Please cancel it and confirm by email.",
        "I placed order {order} an hour ago and realised I ordered the wrong model. Please cancel it before it ships; I'll order the right one separately.",
        "Please don't renew my annual plan on {future}. I'm moving to a different tool and won't need it anymore. Can you confirm the cancellation so I'm not charged again?",
        "I signed up for the free trial to test a few things and I don't want to continue. How do I cancel before the trial ends so I'm not charged {amount}?",
        "We're closing our business at the end of the month and need to cancel our account with all {seats} seats. What's the process, and is there a fee for ending early?",
        "I tried to cancel my membership in the app, but it shows {error} and nothing happens. I want to cancel today, before the next payment.",
    ],
    "subscription_change": [
        "We're currently on the {plan} plan with {seats2} users. The team is growing and we'd like to upgrade to {plan2} and add a few more seats. How does the pricing work if we switch mid-month?",
        "I'd like to downgrade from {plan} to {plan2}. I don't use most of the extra features. Will the change happen immediately or at the end of my billing period?",
        "I'm going abroad for three months and won't use the service. Can I pause my subscription instead of cancelling, and keep my data and settings?",
        "I'm paying monthly at the moment. If I switch to annual billing, do I get the discount straight away, and will the remaining days of this month be credited?",
        "I've just graduated, so I'm no longer eligible for the student plan. How do I move to the regular {plan} plan without losing my files?",
        "Please remove {addon} from our subscription. We added it for a project that has now finished, but we want to keep the {plan} plan itself.",
    ],
    "feature_request": [
        "I use the app every day and love it, but one thing is missing: {feature}. At the moment I have to work around it by hand. Is this something you're planning?",
        "Our team would really like an integration with {integration}. We use it for everything, and copying data over manually takes hours each week. Please consider adding it.",
        "It would be great if we could {feature_verb}. I know a few other users in the forum have asked for the same thing. Any chance it makes it into a future release?",
        "Please consider adding {language} to the app's languages. My parents would like to use it but they don't read English well.",
        "Suggestion for the {section}: let users {feature_verb}. It would save a lot of clicks. Happy to explain our use case in more detail if that helps.",
        "Are you planning to release an app for {os}? I switched recently and now I have to use the website, which is less convenient.",
    ],
    "complaint": [
        "I've contacted your support {n} times about the same issue and each time I get a different answer. Nobody takes responsibility and ticket {ticket} keeps getting closed without a solution. This is not acceptable.",
        "I called your hotline on {date} and waited on hold for over an hour. When I finally got through, the agent was rude and hung up on me. I want this complaint passed to a manager.",
        "I've been a loyal customer for {years} years, and the service has got worse every year. Late deliveries, slow replies, and now this. I'm seriously considering taking my business elsewhere.",
        "Your agent {agent} promised me a callback within 24 hours. It's been a week and nobody has called. I'm tired of chasing you for basic answers.",
        "The {product} I bought broke after two weeks, and the repair took a month. Now it has broken again. The quality is poor and your after-sales service is worse.",
        "I'm writing to make a formal complaint about how my case was handled. I was passed between departments, asked for the same information again and again, and nothing has been resolved.",
    ],
    "data_privacy": [
        "I'd like to close my account and have all my personal data deleted, in line with GDPR. Please confirm once everything, including my order history and saved addresses, has been erased.",
        "Under the GDPR, I'm requesting a copy of all personal data you hold about me, including how it's used and who it's shared with. My account email is {email}.",
        "I keep receiving marketing emails and texts even though I unticked every box in my settings. Please remove my email and phone number from all marketing lists.",
        "I received an email from you about a security incident. Could you tell me exactly which of my data was affected and what you're doing about it?",
        "Our company is evaluating your service. Our legal team needs your data processing agreement, your list of sub-processors, and information on where the data is hosted.",
        "Your app asks for access to my contacts and location. Why do you need these, and what happens if I say no? I don't want my data shared with advertisers.",
    ],
    "feedback_praise": [
        "I just wanted to say thank you to {agent}, who helped me on the chat yesterday. My problem was solved in ten minutes and everything was explained clearly. Great service!",
        "I've been using the {product} for a month now and I love it. It's well made and easy to use. I've already recommended it to two friends.",
        "I ordered on Monday and the parcel arrived on Tuesday morning, beautifully packed. I don't usually write these messages, but that was impressive. Thank you!",
        "The new version of the app is fantastic. The {section} is much faster and the design is cleaner. Whoever worked on this did a great job.",
        "I had a problem with a return and expected a long back-and-forth, but your team sorted it in one email. Really appreciate it.",
        "We've been on the {plan} plan for {years} years and it's been reliable the whole time. Just wanted to let you know we're very happy customers.",
    ],
}

# More (and longer) situational context per class, for the email form.
EXTRA_CONTEXT = {
    "billing": ["I signed up for the {plan} plan a few months ago and the bill was always the same until now.",
                "Our accountant flagged this during the monthly reconciliation.",
                "I need the corrected document before we close our books."],
    "payment_issue": ["I've tried at least five times over the last two days with the same result.",
                      "The order is still sitting in my cart and I'm worried the price will change.",
                      "I'm worried I'll be charged several times if I keep trying."],
    "refund_request": ["I sent the item back on {date} using the label you provided.",
                       "I have been patient but it's been weeks now.",
                       "I would prefer the money back on my original card rather than store credit."],
    "technical_support": ["It happens every single time, I can reproduce it easily.",
                          "I need this working for a presentation tomorrow.",
                          "Other apps on the same device work without any problem."],
    "account_access": ["I've had this account for years and all my purchase history is there.",
                       "I don't have the old phone anymore, it was stolen.",
                       "I'm sure I'm typing the right password, I use a password manager."],
    "product_inquiry": ["I'm trying to decide between you and another brand.",
                        "If it works for us we'd probably buy several.",
                        "The description on the website doesn't say."],
    "order_status": ["I haven't received any email since the order confirmation.",
                     "Normally your orders ship the next day, so this is unusual.",
                     "I just want to know if it's still on track."],
    "shipping_delivery": ["The tracking page just says 'in transit' with no details.",
                          "My neighbours haven't seen anything either.",
                          "I've already called the courier and they were no help."],
    "returns_exchange": ["I've never worn it, it's still in the original bag.",
                         "The colour looks very different in person.",
                         "I'd be happy with an exchange if that's quicker."],
    "cancellation": ["I've already removed the app from my phone.",
                     "I don't want to pause or downgrade, just cancel.",
                     "I can't see any option to cancel in the settings."],
    "subscription_change": ["We want to keep using the service, just on a different plan.",
                            "Our needs have changed since we signed up.",
                            "I'd like to keep all my existing data and settings."],
    "feature_request": ["I think a lot of users would find this useful.",
                        "At the moment I have to use a separate tool for this.",
                        "I'd be happy to test a beta version."],
    "complaint": ["I have never been treated like this by any company.",
                  "I've wasted hours on the phone with your staff.",
                  "I've put up with a lot but this is the last straw."],
    "data_privacy": ["I didn't give permission for this.",
                     "I want to know exactly what information you have about me.",
                     "I'd like this handled under data protection law."],
    "feedback_praise": ["I know you usually only hear from people when something goes wrong.",
                        "Everything was exactly as described.",
                        "Couldn't be happier with how it all went."],
}

for _label, _stories in STORIES.items():
    CLASSES[_label]["stories"] = _stories
for _label, _frames in EDGE_FRAMES.items():
    CLASSES[_label]["frames"] = CLASSES[_label]["frames"] + _frames
for _label, _ctx in EXTRA_CONTEXT.items():
    CLASSES[_label]["context"] = CLASSES[_label]["context"] + _ctx

# Sentences that fit any class: they add shared vocabulary so that surface
# words alone don't give the label away. ({date2} is a second, different date.)
# NEUTRAL ones also fit a thank-you note; PROBLEM ones imply something to fix.
GENERIC_NEUTRAL = [
    "My order number is {order}.",
    "My account email is {email}.",
    "I've been a customer for {years} years.",
    "I'm writing from my phone, sorry for any typos.",
    "I'm on the {plan} plan.",
    "My name is {name} and the account is under this email.",
    "I paid with my {card}.",
    "I spoke to {agent} on the phone last week.",
]
GENERIC_PROBLEM = [
    "I already contacted you on {date2} about this.",
    "Sorry if this is the wrong department.",
    "This is quite urgent.",
    "I looked in the help centre but couldn't find an answer.",
    "The chat on your website didn't help.",
    "This is my second message about this.",
    "I've attached a screenshot.",
    "I'm not very good with technology, so please keep it simple.",
]

GREETINGS = ["Hi,", "Hello,", "Hey there,", "Dear Support Team,",
             "Good morning,", "Hi team,", "Dear Sir/Madam,", "Hello support,",
             "To whom it may concern,", "Hi {agent},", "Good afternoon,",
             "Hey,", "Dear customer service,", "Hello team,"]
CLOSINGS_NEUTRAL = ["Thanks.", "Kind regards, {name}", "Best, {name}",
                    "Cheers, {name}", "Thank you, {name}", "Thanks a lot!",
                    "Regards, {name}", "Many thanks, {name}", "Thx",
                    "Have a nice day!", "All the best, {name}"]
CLOSINGS_PROBLEM = ["Thank you in advance.", "Looking forward to your reply.",
                    "Please get back to me as soon as possible.",
                    "Appreciate the help.", "Waiting for your answer.",
                    "Please advise.", "Kindly revert at the earliest."]
# Register markers around a one-sentence query.
OPENERS_POLITE = ["Could you please help me? ", "I hope you're well. ",
                  "Sorry to bother you, but ", "I was wondering if you could help. ",
                  "I would be grateful for your help. "]
OPENERS_CHATTY = ["ok so ", "hey! so ", "Quick question: ", "hiya, ", "um, ",
                  "so basically ", "Hi :) "]
OPENERS_NONNATIVE = ["Dear sir, ", "Kindly help, ", "Hello sir, ",
                     "I am having one query. ", "Respected team, "]
SUFFIX_ANGRY = [" This is ridiculous.", " Sort it out!", " Seriously??",
                " I'm losing my patience.", " Fix this now.", "!!!"]
SUFFIX_NONNATIVE = [" Please do the needful.", " Kindly revert back.",
                    " Waiting for your kind reply.", " Please help me for this.",
                    " Thanking you."]
SUFFIX_POLITE = [" Thank you!", " Many thanks.", " Thanks so much for your help.",
                 " I appreciate it."]
EMAIL_OPENERS = ["I hope you're well.", "I hope you can help me.",
                 "I'm writing about a problem.", "I have a question.",
                 "Hope you're having a good day."]
ANGRY_OK = ("complaint", "refund_request", "payment_issue", "shipping_delivery",
            "order_status", "technical_support", "account_access")

# A thank-you note gets no "this is urgent" / "please advise" trimmings.
PRAISE_REGISTER = {
    "generic": GENERIC_NEUTRAL,
    "closings": CLOSINGS_NEUTRAL,
    "openers": ["I hope you're well. ", "Just a quick note: "] + OPENERS_CHATTY,
    "openers_nn": ["Dear sir, ", "Hello sir, ", "Respected team, "],
    "suffix_nn": [" Thanking you."],
    "suffix_polite": [" Thanks again!", " Have a great day."],
    "email_openers": ["I hope you're well.", "Hope you're having a good day.",
                      "I just wanted to share something."],
}
DEFAULT_REGISTER = {
    "generic": GENERIC_NEUTRAL + GENERIC_PROBLEM,
    "closings": CLOSINGS_NEUTRAL + CLOSINGS_PROBLEM,
    "openers": OPENERS_POLITE + OPENERS_CHATTY,
    "openers_nn": OPENERS_NONNATIVE,
    "suffix_nn": SUFFIX_NONNATIVE,
    "suffix_polite": SUFFIX_POLITE,
    "email_openers": EMAIL_OPENERS,
}


# An angry message doesn't open with "I hope you're well".
COMPLAINT_REGISTER = dict(DEFAULT_REGISTER,
                          openers=["Honestly, ", "Look, ", "Sorry, but ", "ok so ",
                                   "so basically ", "Right. "],
                          suffix_polite=[" Thanks.", " I expect a reply."],
                          email_openers=["I'm writing to complain.",
                                         "I've had enough.", "I have to say this."])


def register_for(label):
    if label == "feedback_praise":
        return PRAISE_REGISTER
    if label == "complaint":
        return COMPLAINT_REGISTER
    return DEFAULT_REGISTER


# ---------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------

KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours():
    pos = {}
    for r, row in enumerate(KEYBOARD):
        for c, ch in enumerate(row):
            pos[ch] = (r, c)
    nb = {}
    for ch, (r, c) in pos.items():
        out = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if (dr, dc) == (0, 0):
                    continue
                rr, cc = r + dr, c + dc
                if 0 <= rr < 3 and 0 <= cc < len(KEYBOARD[rr]):
                    out.append(KEYBOARD[rr][cc])
        nb[ch] = out
    return nb


NEIGHBOURS = _neighbours()

MISSPELLINGS = [
    ("receive", "recieve"), ("received", "recieved"), ("definitely", "definately"),
    ("address", "adress"), ("separate", "seperate"), ("account", "acount"),
    ("password", "pasword"), ("subscription", "subcription"),
    ("cancel", "cancle"), ("delivery", "delivary"), ("tomorrow", "tommorow"),
    ("payment", "payement"), ("because", "becuase"), ("cancelled", "canceled"),
    ("immediately", "immediatly"), ("business", "buisness"),
    ("guarantee", "garantee"), ("which", "wich"), ("invoice", "invoce"),
    ("refund", "refunt"), ("until", "untill"), ("really", "realy"),
    ("necessary", "neccessary"), ("their", "thier"), ("since", "scince"),
    ("warranty", "waranty"), ("privacy", "privicy"), ("colleague", "collegue"),
    ("disappointed", "dissapointed"), ("recommend", "reccomend"),
]

TEXTSPEAK = [
    (r"\byou\b", "u"), (r"\byour\b", "ur"), (r"\bplease\b", "pls"),
    (r"\bplease\b", "plz"), (r"\bthanks\b", "thx"), (r"\bare\b", "r"),
    (r"\bbecause\b", "bc"), (r"\bI'm\b", "im"), (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"), (r"\bwon't\b", "wont"), (r"\bdidn't\b", "didnt"),
    (r"\bit's\b", "its"), (r"\bwith\b", "w/"),
    (r"\bas soon as possible\b", "asap"), (r"\bto be honest\b", "tbh"),
    (r"\bokay\b", "ok"), (r"\bbefore\b", "b4"), (r"\bmessage\b", "msg"),
    (r"\bpeople\b", "ppl"), (r"\bthank you\b", "ty"), (r"\bknow\b", "kno"),
]

EMOJI = {
    "feedback_praise": ["😊", "🙏", "👍", "❤️", "🎉", "🙌", "⭐"],
    "complaint": ["😡", "😤", "👎", "🤬", "😠"],
    "_default": ["🙏", "😕", "🤔", "😩", "😅", "🙂", "😞"],
}


def _typo_word(rng, w):
    i = rng.randrange(1, len(w))  # keep the first letter
    op = rng.randrange(4)
    ch = w[i]
    if op == 0 and ch.lower() in NEIGHBOURS:  # adjacent-key substitution
        sub = rng.choice(NEIGHBOURS[ch.lower()])
        return w[:i] + (sub.upper() if ch.isupper() else sub) + w[i + 1:]
    if op == 1:  # dropped letter
        return w[:i] + w[i + 1:]
    if op == 2:  # doubled letter
        return w[:i] + ch + w[i:]
    if i < len(w) - 1:  # transposition
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    return w[:i] + ch + w[i:]


def add_typos(rng, s):
    words = list(re.finditer(r"[A-Za-z]{4,}", s))
    if not words:
        return s
    k = 1 if rng.random() < 0.7 else 2
    picks = sorted(rng.sample(range(len(words)), min(k, len(words))), reverse=True)
    for p in picks:
        m = words[p]
        s = s[:m.start()] + _typo_word(rng, m.group()) + s[m.end():]
    return s


def add_misspelling(rng, s):
    hits = [(a, b) for a, b in MISSPELLINGS
            if re.search(r"\b" + a + r"\b", s, re.I)]
    if not hits:
        return add_typos(rng, s)
    a, b = rng.choice(hits)

    def rep(m):
        t = m.group()
        return b.capitalize() if t[0].isupper() else b
    return re.sub(r"\b" + a + r"\b", rep, s, count=1, flags=re.I)


def textspeak(rng, s):
    out = s
    changed = False
    for pat, rep in TEXTSPEAK:
        if re.search(pat, out, re.I) and rng.random() < 0.6:
            out = re.sub(pat, rep, out, flags=re.I)
            changed = True
    if not changed:
        out = out.rstrip(".") + rng.choice([" pls", " thx", " asap", " ty"])
    return out


def drop_punct(rng, s):
    if rng.random() < 0.5:
        return s.rstrip(".!?")
    return re.sub(r"[.,!?;:'](?=\s|$)|'", "", s)


def extra_spaces(rng, s):
    gaps = [m.start() for m in re.finditer(r" ", s)]
    if not gaps:
        return s
    for g in sorted(rng.sample(gaps, min(len(gaps), rng.randint(1, 2))), reverse=True):
        s = s[:g] + " " * rng.randint(1, 2) + s[g:]
    if rng.random() < 0.3:
        s = s.replace(", ", " , ", 1)  # space before a comma
    return s


def add_emoji(rng, s, label):
    e = rng.choice(EMOJI.get(label, EMOJI["_default"]))
    if rng.random() < 0.3:
        e = e * 2
    return s + ("" if rng.random() < 0.3 else " ") + e


def casing(rng, s, label):
    r = rng.random()
    angry = label == "complaint" or re.search(r"!{2,}|ridiculous|Seriously|now\b", s)
    if (angry and r < 0.5) or r < 0.15:
        if len(s.split()) <= 25:
            return s.upper()
    if r < 0.8:
        return s.lower()
    return s[0].lower() + s[1:] if s else s


def apply_noise(rng, s, label):
    ops = ["typo", "typo", "misspell", "lower", "case", "punct", "punct",
           "spaces", "emoji", "textspeak", "textspeak"]
    n = rng.choices([1, 2, 3], weights=[55, 33, 12])[0]
    chosen = []
    while len(chosen) < n:
        op = rng.choice(ops)
        if op not in chosen:
            chosen.append(op)
    # fixed application order keeps the result sensible (case after words)
    order = ["textspeak", "misspell", "typo", "punct", "lower", "case",
             "spaces", "emoji"]
    for op in order:
        if op not in chosen:
            continue
        if op == "typo":
            s = add_typos(rng, s)
        elif op == "misspell":
            s = add_misspelling(rng, s)
        elif op == "lower":
            s = s.lower()
        elif op == "case":
            s = casing(rng, s, label)
        elif op == "punct":
            s = drop_punct(rng, s)
        elif op == "spaces":
            s = extra_spaces(rng, s)
        elif op == "emoji":
            s = add_emoji(rng, s, label)
        elif op == "textspeak":
            s = textspeak(rng, s)
    return s


# ---------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------

_DATE_FIXES = [
    (re.compile(r"\b(?:on|from) (yesterday|last \w+|\d+ days ago)\b"), r"\1"),
    (re.compile(r"\bsince (\d+) days ago\b"), r"for \1 days"),
    (re.compile(r"\bby (\d+ days ago)\b"), r"\1"),
]


def _fill(template, slots):
    s = template.format_map(slots)
    for pat, rep in _DATE_FIXES:
        s = pat.sub(rep, s)
    return s


def _join_lower(prefix, core):
    """prefix + core, lower-casing core's first letter after a chatty/
    mid-sentence opener ('ok so ', 'Sorry to bother you, but ')."""
    if prefix.endswith(". ") or prefix.endswith("? ") or prefix.endswith(": ") \
            or prefix.endswith(") "):
        return prefix + core
    if len(core) > 1 and core[0].isupper() and core[1].islower():
        core = core[0].lower() + core[1:]
    return prefix + core


def _words(s):
    return len(s.split())


def compose(rng, label):
    c = CLASSES[label]
    reg = register_for(label)
    slots = Slots(rng)
    r = rng.random()
    if r < 0.10:
        return _fill(rng.choice(c["terse"]), slots)
    core = _fill(rng.choice(c["frames"]), slots)
    if r < 0.45:
        # single sentence, maybe with a register marker
        k = rng.random()
        if k < 0.12:
            core = _join_lower(rng.choice(reg["openers"]), core)
        elif k < 0.18:
            core = _join_lower(rng.choice(reg["openers_nn"]), core)
            if rng.random() < 0.5:
                core += rng.choice(reg["suffix_nn"])
        elif k < 0.26:
            core += rng.choice(reg["suffix_polite"])
        elif k < 0.30 and label in ANGRY_OK:
            suf = rng.choice(SUFFIX_ANGRY)
            core = (core.rstrip(".!?") + suf) if suf.startswith("!") else core + suf
        return core
    if r < 0.80:
        # two or three sentences: core, then context of its class; a generic
        # sentence may come before or after
        parts = [core]
        if rng.random() < 0.7:
            parts.append(_fill(rng.choice(c["context"]), slots))
            if rng.random() < 0.25:
                parts.append(_fill(rng.choice(c["context"]), slots))
        if len(parts) == 1 or rng.random() < 0.3:
            g = _fill(rng.choice(reg["generic"]), slots)
            parts.insert(0 if rng.random() < 0.4 else len(parts), g)
        if rng.random() < 0.25:
            parts.insert(0, _fill(rng.choice(GREETINGS), slots))
        if rng.random() < 0.15:
            parts.append(_fill(rng.choice(reg["closings"]), slots))
        return " ".join(_dedupe_parts(parts))
    # email form, 40-80 words: greeting, then either a short story of the
    # class or its frame followed by context sentences (mostly of its own
    # class, at most one generic), then a closing.
    target = rng.randint(40, 80)
    greeting = _fill(rng.choice(GREETINGS), slots) if rng.random() < 0.9 else None
    closing = _fill(rng.choice(reg["closings"]), slots)
    if rng.random() < 0.6:
        body = [_fill(rng.choice(c["stories"]), slots)]
        cands = []
        if rng.random() < 0.5:
            cands.append(_fill(rng.choice(c["context"]), slots))
        if rng.random() < 0.4:
            cands.insert(rng.randrange(2), _fill(rng.choice(reg["generic"]), slots))
    else:
        body = [core]
        ctx_pool = list(c["context"])
        rng.shuffle(ctx_pool)
        cands = [_fill(t, slots) for t in ctx_pool[:3]]
        cands.insert(rng.randrange(len(cands) + 1),
                     _fill(rng.choice(reg["generic"]), slots))
        if rng.random() < 0.2:
            cands.insert(rng.randrange(1, len(cands) + 1),
                         _fill(rng.choice(c["frames"]), slots))
    if rng.random() < 0.25:
        body.insert(0, rng.choice(reg["email_openers"]))
    head = [greeting] if greeting else []
    for cand in cands:
        if _words(" ".join(head + body + [closing])) >= target:
            break
        if _words(" ".join(head + body + [cand, closing])) > 85:
            break
        body.append(cand)
    return " ".join(_dedupe_parts(head + body + [closing]))


def _dedupe_parts(parts):
    out = []
    for p in parts:
        if p not in out:
            out.append(p)
    return out


def norm_key(s):
    return " ".join(s.lower().split())


def generate(seed, per_class):
    rng = random.Random(seed)
    seen = {}
    data = {label: [] for label in CLASSES}
    # round-robin over classes so no class gets first pick of shared texts
    labels = list(CLASSES)
    attempts = 0
    while any(len(v) < per_class for v in data.values()):
        attempts += 1
        if attempts > per_class * len(labels) * 50:
            sys.exit("gen_demo_data: could not reach %d unique texts per class" % per_class)
        for label in labels:
            if len(data[label]) >= per_class:
                continue
            s = compose(rng, label)
            if rng.random() < 0.25:
                s = apply_noise(rng, s, label)
            s = s.strip()
            k = norm_key(s)
            if not s or k in seen:
                continue
            seen[k] = label
            data[label].append(s)
    return rng, data


def split(rng, data, fractions=(0.70, 0.15, 0.15)):
    out = {"train": [], "valid": [], "test": []}
    for label, texts in data.items():
        texts = list(texts)
        rng.shuffle(texts)
        n = len(texts)
        n_train = round(n * fractions[0])
        n_valid = round(n * fractions[1])
        out["train"] += [(t, label) for t in texts[:n_train]]
        out["valid"] += [(t, label) for t in texts[n_train:n_train + n_valid]]
        out["test"] += [(t, label) for t in texts[n_train + n_valid:]]
    for rows in out.values():
        rng.shuffle(rows)
    return out


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(["text", "label"])
        for t, label in rows:
            w.writerow([t, label])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(here, "..", "data", "demo"))
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--per-class", type=int, default=300)
    args = ap.parse_args()

    for name, c in CLASSES.items():
        assert len(c["frames"]) >= 40, (name, len(c["frames"]))
        assert len(set(c["frames"])) == len(c["frames"]), name
    rng, data = generate(args.seed, args.per_class)
    parts = split(rng, data)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in ("train", "valid", "test"):
        write_csv(os.path.join(args.out_dir, name + ".csv"), parts[name])
    print("%-20s %6s %6s %6s" % ("label", "train", "valid", "test"))
    for label in CLASSES:
        cnt = [sum(1 for _, l in parts[p] if l == label) for p in ("train", "valid", "test")]
        print("%-20s %6d %6d %6d" % (label, *cnt))
    print("%-20s %6d %6d %6d" % ("total", len(parts["train"]), len(parts["valid"]),
                                  len(parts["test"])))


if __name__ == "__main__":
    main()
