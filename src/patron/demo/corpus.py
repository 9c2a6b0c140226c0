"""The demo's words: real customer utterances from two open datasets, and what agents answer.

Customers' first messages come from Bitext's customer-service set (27 e-commerce intents);
clients' first messages from BANKING77 (77 online-banking intents, grouped here into broad
themes). Both files, their licences and READMEs live in `patron/demo/data/`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from patron.tickets.models import Priority, TicketType

BITEXT_FILE = ("bitext-customer-service", "dev.csv")
BANKING77_FILE = ("banking77", "train_10shot_seed0.csv")


@dataclass(frozen=True)
class Utterance:
    """One first message: the text, its intent, and the entity it names, if any."""

    text: str
    intent: str
    category: str
    entity_type: str = ""
    entity_value: str = ""


def _read_csv(folder: str, name: str) -> list[dict[str, str]]:
    source = resources.files("patron.demo").joinpath("data", folder, name)
    with source.open("rb") as handle:
        text = handle.read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@cache
def bitext_utterances() -> tuple[Utterance, ...]:
    """Customer requests (orders, delivery, refunds, invoices, accounts…)."""
    return tuple(
        Utterance(
            text=row["utterance"].strip(),
            intent=row["intent"],
            category=row["category"],
            entity_type=row["entity_type"],
            entity_value=row["entity_value"].strip(),
        )
        for row in _read_csv(*BITEXT_FILE)
        if row["utterance"].strip()
    )


@cache
def banking_utterances() -> tuple[Utterance, ...]:
    """Banking questions (cards, transfers, cash, identity…), with the theme as category."""
    return tuple(
        Utterance(
            text=" ".join(row["text"].split()),
            intent=row["category"],
            category=BANKING_THEME_OF[row["category"]],
        )
        for row in _read_csv(*BANKING77_FILE)
        if row["text"].strip()
    )


def tag_for(intent: str) -> str:
    """`Refund_not_showing_up` → `refund-not-showing-up`."""
    return re.sub(r"[^a-z0-9]+", "-", intent.lower()).strip("-")


@dataclass(frozen=True)
class CustomerIntent:
    """How the desk handles one Bitext intent."""

    subject: str  # may use {entity}
    subject_without_entity: str
    team: str
    type: str
    reply: str
    priority_bias: str = Priority.NORMAL


RETAIL = "Retail Support"
BILLING = "Billing"
CLIENT_SUCCESS = "Client Success"

CUSTOMER_INTENTS: dict[str, CustomerIntent] = {
    "cancel_order": CustomerIntent(
        "Cancel order {entity}",
        "Cancel my order",
        RETAIL,
        TicketType.TASK,
        "I've cancelled the order for you. As it hadn't left the warehouse yet there is no "
        "cancellation fee, and the payment will be released back to your card within 3-5 "
        "business days.",
    ),
    "change_order": CustomerIntent(
        "Change order {entity}",
        "Change items in my order",
        RETAIL,
        TicketType.TASK,
        "No problem — I've updated the order with the changes you asked for. You'll get a new "
        "confirmation email in a few minutes; the delivery date stays the same.",
    ),
    "change_shipping_address": CustomerIntent(
        "Change the delivery address",
        "Change the delivery address",
        RETAIL,
        TicketType.TASK,
        "I've changed the delivery address on your open order. If the parcel has already been "
        "handed to the courier I'll ask them to redirect it — you'll see the new address in the "
        "tracking page within the hour.",
    ),
    "check_cancellation_fee": CustomerIntent(
        "Question about the cancellation fee",
        "Question about the cancellation fee",
        BILLING,
        TicketType.QUESTION,
        "There's no fee to cancel before an order ships. After dispatch we charge the return "
        "postage only (€4.95 within the EU); subscriptions can be cancelled at any time without "
        "a fee at the end of the current period.",
    ),
    "check_invoice": CustomerIntent(
        "Find invoice {entity}",
        "Where can I find my invoices?",
        BILLING,
        TicketType.QUESTION,
        "All your invoices are under Account → Orders → Invoices, where you can download each "
        "one as a PDF. I've also attached the one you were looking for to this reply.",
    ),
    "check_payment_methods": CustomerIntent(
        "Which payment methods do you accept?",
        "Which payment methods do you accept?",
        BILLING,
        TicketType.QUESTION,
        "We accept Visa, Mastercard and American Express, PayPal, Apple Pay and Google Pay, "
        "and SEPA bank transfer for orders over €100. Invoices for business accounts can be "
        "paid within 30 days.",
    ),
    "check_refund_policy": CustomerIntent(
        "Question about the refund policy",
        "Question about the refund policy",
        BILLING,
        TicketType.QUESTION,
        "You can return any item within 30 days of delivery for a full refund, as long as it's "
        "unused and in its original packaging. Refunds go back to the original payment method "
        "within 5-10 business days after we receive the return.",
    ),
    "complaint": CustomerIntent(
        "Complaint",
        "Complaint",
        RETAIL,
        TicketType.PROBLEM,
        "I'm really sorry about your experience — that's not the standard we aim for. I've "
        "logged your complaint with our customer-relations team and I'll personally follow up "
        "with what we're doing about it within two business days.",
        priority_bias=Priority.HIGH,
    ),
    "contact_customer_service": CustomerIntent(
        "How do I contact customer service?",
        "How do I contact customer service?",
        RETAIL,
        TicketType.QUESTION,
        "You've reached us! We're here Monday to Friday 8:00-20:00 and Saturday 9:00-14:00, by "
        "email, chat and phone (+49 30 1234 5678). How can I help?",
    ),
    "contact_human_agent": CustomerIntent(
        "I want to talk to a person",
        "I want to talk to a person",
        RETAIL,
        TicketType.QUESTION,
        "You're talking to a person now — hi, I'm one of the support team. Tell me what's "
        "going on and I'll take care of it; if you'd rather talk, reply with a good time and "
        "number and I'll call you.",
    ),
    "create_account": CustomerIntent(
        "Open a new {entity} account",
        "Open a new account",
        RETAIL,
        TicketType.QUESTION,
        "You can create an account from the Sign up link at the top of any page; it takes a "
        "minute and only needs your email address. If you'd like, I can send you an invitation "
        "link instead — just confirm the address.",
    ),
    "delete_account": CustomerIntent(
        "Delete my {entity} account",
        "Delete my account",
        RETAIL,
        TicketType.TASK,
        "I've started the deletion of your account. For your security we wait 14 days before "
        "the data is erased for good; if you change your mind before then, just log in and the "
        "request is cancelled.",
    ),
    "delivery_options": CustomerIntent(
        "Delivery options to {entity}",
        "Which delivery options are there?",
        RETAIL,
        TicketType.QUESTION,
        "We offer standard delivery (3-5 business days), express (next business day if you "
        "order before 15:00) and pick-up from over 2,000 parcel lockers. You'll see the options "
        "for your address at checkout.",
    ),
    "delivery_period": CustomerIntent(
        "When will my order arrive?",
        "When will my order arrive?",
        RETAIL,
        TicketType.QUESTION,
        "Your order left our warehouse yesterday and the courier expects to deliver it within "
        "2 business days. You'll get a text on the morning of delivery with a one-hour window.",
    ),
    "edit_account": CustomerIntent(
        "Update my {entity} account details",
        "Update my account details",
        RETAIL,
        TicketType.TASK,
        "I've updated your account details as requested. You can change most of them yourself "
        "under Account → Profile; your email address needs a quick confirmation by email.",
    ),
    "get_invoice": CustomerIntent(
        "Invoice {entity} needed",
        "I need an invoice",
        BILLING,
        TicketType.TASK,
        "I've attached the invoice to this reply. If you need it addressed to your company, "
        "send me the company name and VAT number and I'll issue a corrected one.",
    ),
    "get_refund": CustomerIntent(
        "Refund of {entity}",
        "Refund request",
        BILLING,
        TicketType.TASK,
        "I've approved the refund. It has gone back to your original payment method today; "
        "depending on your bank it shows on your statement within 5-10 business days.",
    ),
    "newsletter_subscription": CustomerIntent(
        "Newsletter subscription",
        "Newsletter subscription",
        RETAIL,
        TicketType.TASK,
        "Done — I've updated your newsletter subscription. You can change it any time from the "
        "link at the bottom of each newsletter or under Account → Notifications.",
        priority_bias=Priority.LOW,
    ),
    "payment_issue": CustomerIntent(
        "Problem with a payment",
        "Problem with a payment",
        BILLING,
        TicketType.INCIDENT,
        "I can see the payment attempt: it was declined by the card issuer before it reached "
        "us, so you haven't been charged. Please try again or use another method; if it fails "
        "again your bank can tell you why.",
        priority_bias=Priority.HIGH,
    ),
    "place_order": CustomerIntent(
        "Help placing an order",
        "Help placing an order",
        RETAIL,
        TicketType.QUESTION,
        "Happy to help! Add the items to your basket and go to checkout; if something goes "
        "wrong there, tell me which step and I can place the order for you by phone.",
    ),
    "recover_password": CustomerIntent(
        "Can't log in — password reset",
        "Can't log in — password reset",
        RETAIL,
        TicketType.INCIDENT,
        "I've sent a password-reset link to the address on your account; it's valid for an "
        "hour. If it doesn't arrive within a few minutes, please check your spam folder.",
    ),
    "registration_problems": CustomerIntent(
        "Problem signing up",
        "Problem signing up",
        RETAIL,
        TicketType.INCIDENT,
        "Sorry about that — there was a problem with the sign-up form on some browsers this "
        "week, and it's fixed now. Could you try again? If it still fails, a screenshot of the "
        "error would help.",
    ),
    "review": CustomerIntent(
        "Leaving a review",
        "Leaving a review",
        RETAIL,
        TicketType.QUESTION,
        "Thank you for taking the time! You can leave a review on each product's page once "
        "you're logged in, or reply to the review email we send a week after delivery.",
        priority_bias=Priority.LOW,
    ),
    "set_up_shipping_address": CustomerIntent(
        "Can't save a delivery address",
        "Can't save a delivery address",
        RETAIL,
        TicketType.INCIDENT,
        "I've added the address to your account for you and set it as the default. The form "
        "rejects addresses without a house number — that's probably what happened.",
    ),
    "switch_account": CustomerIntent(
        "Switch to a {entity} account",
        "Switch account",
        RETAIL,
        TicketType.TASK,
        "I've switched your account over; your order history and saved addresses have moved "
        "with it. Log out and back in to see the change.",
    ),
    "track_order": CustomerIntent(
        "Where is order {entity}?",
        "Where is my order?",
        RETAIL,
        TicketType.QUESTION,
        "Your parcel is with the courier and out for delivery today. Here is the tracking page "
        "so you can follow it live — let me know if it hasn't arrived by tomorrow.",
    ),
    "track_refund": CustomerIntent(
        "Status of my refund",
        "Status of my refund",
        BILLING,
        TicketType.QUESTION,
        "Your refund was processed on our side three days ago. Banks usually need 5-10 business "
        "days to show it; if it isn't there by next Friday, reply here and I'll send you the "
        "transaction reference for your bank.",
    ),
}


def _intents(names: str) -> tuple[str, ...]:
    return tuple(names.split())


@dataclass(frozen=True)
class BankingTheme:
    """A broad family of BANKING77 intents, answered the same way."""

    name: str
    intents: tuple[str, ...]
    reply: str
    note: str
    type: str = TicketType.QUESTION
    urgent: bool = False


BANKING_THEMES: tuple[BankingTheme, ...] = (
    BankingTheme(
        "cards",
        _intents(
            "card_arrival card_delivery_estimate card_linking activate_my_card get_physical_card "
            "order_physical_card getting_spare_card getting_virtual_card "
            "get_disposable_virtual_card disposable_card_limits virtual_card_not_working "
            "card_not_working card_about_to_expire contactless_not_working "
            "apple_pay_or_google_pay visa_or_mastercard card_acceptance"
        ),
        "I've checked your cards with our card team. The replacement was dispatched by courier "
        "yesterday and should reach you within two business days; in the meantime the virtual "
        "card in your app works everywhere the physical card does, including Apple and Google "
        "Pay.",
        "Card ops confirm dispatch via courier, tracking sent to the client's registered address.",
    ),
    BankingTheme(
        "security",
        _intents(
            "lost_or_stolen_card compromised_card lost_or_stolen_phone pin_blocked change_pin "
            "passcode_forgotten card_swallowed"
        ),
        "I've blocked the card straight away so nothing more can be charged to it, and ordered "
        "a replacement with express delivery. Please look through the last week's transactions "
        "in the app and tell me about anything you don't recognise — we'll dispute it for you.",
        "Card blocked at 1st contact; fraud team informed. Check for disputes in the next 48 h.",
        type=TicketType.INCIDENT,
        urgent=True,
    ),
    BankingTheme(
        "card payments",
        _intents(
            "card_payment_not_recognised card_payment_fee_charged "
            "card_payment_wrong_exchange_rate declined_card_payment pending_card_payment "
            "reverted_card_payment? transaction_charged_twice extra_charge_on_statement "
            "direct_debit_payment_not_recognised"
        ),
        "I've looked at the payment. The merchant authorised it twice and one of the two "
        "authorisations has already been released — it will disappear from your statement "
        "within three business days. If it's still there on Monday I'll raise a chargeback.",
        "Ledger shows a single settled amount; second line is an expiring authorisation.",
        type=TicketType.INCIDENT,
    ),
    BankingTheme(
        "cash",
        _intents(
            "atm_support cash_withdrawal_charge cash_withdrawal_not_recognised "
            "declined_cash_withdrawal pending_cash_withdrawal wrong_amount_of_cash_received "
            "wrong_exchange_rate_for_cash_withdrawal"
        ),
        "Thank you for the details. I've opened a claim with the ATM operator for the "
        "difference; they have ten business days to answer, and I've credited the amount to "
        "your account provisionally in the meantime.",
        "Provisional credit booked; ATM operator claim opened, reference in the back office.",
        type=TicketType.INCIDENT,
    ),
    BankingTheme(
        "transfers",
        _intents(
            "transfer_not_received_by_recipient transfer_timing transfer_fee_charged "
            "transfer_into_account pending_transfer failed_transfer declined_transfer "
            "cancel_transfer beneficiary_not_allowed receiving_money "
            "balance_not_updated_after_bank_transfer"
        ),
        "I've traced the transfer: it left us this morning and is now with the correspondent "
        "bank, which usually credits the beneficiary within one business day. I've attached the "
        "payment confirmation with the reference in case the recipient's bank asks for it.",
        "Payments ops: transfer released from compliance hold 09:40, SWIFT confirmation attached.",
    ),
    BankingTheme(
        "top-ups and deposits",
        _intents(
            "automatic_top_up top_up_by_bank_transfer_charge top_up_by_card_charge "
            "top_up_by_cash_or_cheque top_up_failed top_up_limits top_up_reverted "
            "topping_up_by_card pending_top_up verify_top_up "
            "balance_not_updated_after_cheque_or_cash_deposit"
        ),
        "The deposit has arrived and is now showing in your balance. Deposits by cheque take "
        "two business days to clear; for amounts above your usual limit I've raised it for the "
        "rest of the month so this doesn't happen again.",
        "Raised monthly top-up limit; within the client's agreement, no approval needed.",
    ),
    BankingTheme(
        "currencies",
        _intents(
            "exchange_rate exchange_charge exchange_via_app fiat_currency_support "
            "supported_cards_and_currencies country_support"
        ),
        "You can hold and exchange 28 currencies in your account at the interbank rate plus "
        "0.3%; as a private client there's no monthly exchange limit. For larger amounts I can "
        "book the rate for you in advance — just tell me the amount and date.",
        "Offered a forward booking; treasury desk can quote same day.",
    ),
    BankingTheme(
        "identity and account",
        _intents(
            "why_verify_identity unable_to_verify_identity verify_my_identity "
            "verify_source_of_funds edit_personal_details age_limit terminate_account"
        ),
        "Regulations require us to verify identity and the source of larger deposits. I've "
        "sent you a secure upload link; a copy of your passport and last year's statement are "
        "enough, and I'll make sure compliance looks at them the same day.",
        "Compliance: KYC refresh due; documents requested via secure link.",
        type=TicketType.TASK,
    ),
    BankingTheme(
        "refunds",
        _intents("request_refund Refund_not_showing_up"),
        "I've contacted the merchant's bank about the refund. It was issued on their side, and "
        "refunds by card take up to five business days to appear. I'll keep this ticket open "
        "and check again on Thursday.",
        "Merchant acquirer confirms refund issued; ARN requested.",
    ),
)

BANKING_THEME_OF: dict[str, str] = {
    intent: theme.name for theme in BANKING_THEMES for intent in theme.intents
}
THEME_NAMED: dict[str, BankingTheme] = {theme.name: theme for theme in BANKING_THEMES}

# A few BANKING77 intents read awkwardly once humanized; the rest do fine as they are.
BANKING_SUBJECTS: dict[str, str] = {
    "Refund_not_showing_up": "Refund not showing up",
    "reverted_card_payment?": "Card payment reverted",
    "atm_support": "Question about ATMs",
    "age_limit": "Age limit for an account",
    "visa_or_mastercard": "Visa or Mastercard?",
    "apple_pay_or_google_pay": "Apple Pay / Google Pay",
    "receiving_money": "Receiving money into the account",
    "terminate_account": "Closing an account",
    "country_support": "Which countries are supported?",
    "fiat_currency_support": "Which currencies can I hold?",
    "transfer_into_account": "Transfer into the account",
    "why_verify_identity": "Why do you need to verify my identity?",
    "card_linking": "Linking a card",
}


def customer_subject(utterance: Utterance) -> str:
    intent = CUSTOMER_INTENTS[utterance.intent]
    if utterance.entity_value and "{entity}" in intent.subject:
        return intent.subject.format(entity=utterance.entity_value)
    return intent.subject_without_entity


def client_subject(utterance: Utterance) -> str:
    if utterance.intent in BANKING_SUBJECTS:
        return BANKING_SUBJECTS[utterance.intent]
    return utterance.intent.replace("_", " ").strip("? ").capitalize()


# What people write next, and what the agent answers then.
FOLLOW_UPS_UNRESOLVED = (
    "Thanks, but it still isn't sorted. Could you have another look?",
    "Any news on this? It's been a few days and I haven't heard anything.",
    "I tried that and it didn't work, I'm afraid. Same problem as before.",
    "Sorry, one more question: does this also apply to the order I placed last week?",
    "Hello again — I just want to make sure this hasn't been forgotten.",
)
FOLLOW_UPS_RESOLVED = (
    "That worked, thank you so much!",
    "Perfect, thanks for the quick help.",
    "Great, all sorted now. Thanks!",
    "Thank you — much appreciated.",
)
FOLLOW_UP_WAITING = (
    "Any update? I'm still waiting.",
    "Just checking in on this — is anyone looking at it?",
    "Hello? I wrote a while ago and haven't had an answer yet.",
)
SECOND_REPLIES = (
    "Thanks for bearing with us. I've looked into it again and corrected it on our side — you "
    "should see the change within the hour. Let me know if you don't.",
    "Thanks for getting back to me. I've escalated this to the specialist team and will update "
    "you as soon as I hear back, by tomorrow at the latest.",
    "Sorry this is taking longer than it should. I've checked again and it's now done; you'll "
    "get a confirmation email shortly.",
)
CLOSING_REPLIES = (
    "Glad to hear it's sorted! I'll close this ticket now — just reply if anything else comes up.",
    "Wonderful, thanks for letting me know. Have a great day!",
    "You're welcome! I'm marking this as solved; a reply reopens it any time.",
)
HOLD_NOTES = (
    "Waiting on the courier's investigation (usually 3-5 business days); put on hold.",
    "Needs an answer from the warehouse team; on hold until they reply.",
    "Escalated to the payments provider; on hold until we hear back.",
)
CUSTOMER_NOTES = {
    RETAIL: (
        "Checked the order in the shop admin: paid, label printed, no courier scan yet.",
        "Known issue with the address form on Safari (DEV-2141); workaround given.",
        "Repeat customer, third ticket this month — worth a goodwill voucher if it drags on.",
        "Courier confirmed a delay at the regional hub; 1-2 extra days expected.",
    ),
    BILLING: (
        "Refund issued in the payment provider; takes 5-10 business days to reach the card.",
        "Invoice regenerated with the VAT number the customer sent.",
        "Payment provider shows a soft decline (code 05) from the issuer, nothing on our side.",
        "Checked the ledger: a single charge, the other line is an expired authorisation.",
    ),
}
LIGHT_AGENT_NOTES = (
    "Finance check: no duplicate charge in the ledger for this order.",
    "Finance check: refund booked and reconciled, reference added to the order.",
    "Finance check: invoice number is valid and was sent on the order date.",
)
CLIENT_NOTES = (
    "Spoke to them by phone; they'd like a call back from their account manager before Friday.",
    "Mention at the quarterly review — second card issue this quarter.",
    "Compliance asked for documents before we release anything; client informed.",
    "Client is in the middle of a renewal; keep the tone personal and follow up proactively.",
)
