"""Support topics a shop's FAQ needs an entry of its own for: which one a message names, and which entries serve it.

Retrieval by meaning puts "do you have a loyalty scheme?" next to the wholesale discount and "can the courier
come on a Sunday?" next to delivery times: the nearest entry shares the words around the topic, not the topic.
A message that names one of these topics is only answered by an entry whose own text (questions and answers, in
any language) speaks of it; any other entry's answer would be a guess. Nothing here names the demo shop's entries:
a shop whose FAQ has a loyalty entry gets that entry for loyalty questions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SupportTopic:
    """A topic by the words that ask about it (``asked``) and the words an entry that explains it uses."""

    name: str
    asked: re.Pattern[str]
    explained: re.Pattern[str]


def _topic(name: str, asked: str, explained: str) -> SupportTopic:
    return SupportTopic(name, re.compile(asked, re.IGNORECASE), re.compile(explained, re.IGNORECASE))


_PAY = r"(card|visa|mastercard|amex|payment|paypal|transaction|checkout|bank|zahlung|karte|kreditkarte)"
TOPICS: Final[tuple[SupportTopic, ...]] = (
    _topic(
        "payment_failure",
        rf"\b{_PAY}\b[^.!?]{{0,30}}\b(declined|rejected|refused|failed|fails|failing|unsuccessful|bounced|pending|"
        r"abgelehnt|fehlgeschlagen)\b|\b(declined|rejected|refused)\b[^.!?]{0,20}\b(my )?(card|payment)\b"
        r"|\bcharged\b[^.!?]{0,15}\b(twice|double|two times)\b|\bdouble[- ]charged\b|\bpayment (error|problem|issue)s?\b"
        r"|\bcharged\b[^.!?]{0,20}\b(but|and)\b[^.!?]{0,25}\b(no|never (got|had|received)|didn'?t (get|receive)|"
        r"haven'?t (got|had|received)) (an? )?(order )?confirmation\b"
        r"|\b(won'?t|doesn'?t|wouldn'?t|didn'?t|will not|does not) (take|accept) my (card|payment)\b"
        r"|\bpayment\b[^.!?]{0,20}\b(didn'?t|did not|won'?t|isn'?t|not) go(ing)? through\b",
        r"declin|rejected|payment (fail|error|problem)|charged twice|abgelehnt|fehlgeschlagen",
    ),
    _topic(
        "loyalty",
        r"\bloyalty\b|\breward(s)? ?(scheme|programme|program|points|card|club)\b|\b(earn|collect|get|gain)\w* "
        r"(any |some )?(points|rewards|stamps)\b|\bpoints (card|balance|scheme)\b|\b(my|how many) points\b"
        r"|\bstamps?\b|\btreue\w*|\bbonuspunkte\b|\bpunkte sammeln\b",
        r"loyalty|reward|points|stamp|treue|punkte",
    ),
    _topic(
        "price_match",
        r"\bprice[- ]?(match\w*|promise|beat\w*|guarantee)\b|\bmatch\b[^.!?]{0,30}\b(price|cheaper|competitor)\b"
        r"|\bcheaper\b[^.!?]{0,40}\bmatch\b|\bcheaper (elsewhere|somewhere else)\b|\bpreis\w*garantie\b",
        r"price (match|promise|guarantee)|match (a|the|any) (lower )?price",
    ),
    _topic(
        "referral",
        r"\brefer(ral|-?a-?friend|ring a friend)?\b[^.!?]{0,12}\b(friend|code|scheme|programme|bonus)|\brefer a friend\b"
        r"|\breferral\b|\bfreunde werben\b",
        r"refer",
    ),
    _topic(
        "collection_or_shop",
        r"\bclick (and|&|n|'n'|n') collect\b|\bcollect\b[^.!?]{0,25}\b(myself|in person|from (your|the) (shop|store|"
        r"warehouse|office|premises))\b|\bpick\b[^.!?]{0,20}\bup\b[^.!?]{0,10}\b(from|at) (your|the) (shop|store|"
        r"warehouse|office)\b|\b(physical|real|bricks and mortar|high street) (shop|store)\b|\b(visit|come to|pop "
        r"into|pop in to) (your|the) (shop|store|showroom|warehouse)\b|\b(shop|store|showroom) (i|we) can (visit|go"
        r" to)\b|\b(where|whereabouts) (is|are) (your|the) (shop|store|showroom)s?\b|\bladengeschäft\b|\bfiliale\b"
        r"|\b(shop|store|showroom)\b[^.!?]{0,25}\b(i|we) can (visit|walk in|go to|pop in)|\bin[- ]store\b"
        r"|\bdo you have (a|any) (shop|store|showroom)s? in\b|\bwhere are you (based|located)\b"
        r"|\babholen\b|\babholung\b|\bhabt ihr (auch )?(einen |ein )?laden\b|\bvorbeikommen\b"
        r"|\bcollect\b[^.!?]{0,40}\bfrom (one of )?(your|the) (shops?|stores?)\b",
        r"collect|pick up|showroom|visit us|our (shop|store) in|abhol",
    ),
    _topic(
        "jobs",
        r"\b(hiring|vacanc\w+|jobs?|careers?|work for you|apprenticeships?|stellenangebot\w*|bewerb\w*)\b",
        r"\b(job|career|hiring|vacanc)",
    ),
    _topic(
        "currency",
        r"\b(euros?|dollars?|usd|eur|currency|currencies|währung)\b",
        r"currenc|euro|dollar|€|\$|währung",
    ),
    _topic(
        "account_details",
        r"\b(change|update|edit|correct|amend)\w*\b[^.!?]{0,25}\b(e-?mail|username|user name|name on (my|the|your) (account|profile)|phone "
        r"number)"
        r"|\be-?mail-?adresse\b[^.!?]{0,25}\bändern\b|\bändern\b[^.!?]{0,25}\be-?mail",
        # "change the name on my order" is the order's recipient, not the account.
        r"(change|update|edit)\w* (your |the |my )?(e-?mail|phone|account details)|name on (your|the|my) account"
        r"|e-?mail-?adresse ändern",
    ),
    _topic(
        "saved_card",
        r"\b(update|change|remove|delete|edit|replace)\w*\b[^.!?]{0,25}\b(saved|stored|expired|old) (card|payment)"
        r"|\bsaved (card|payment method)s?\b|\bcard\b[^.!?]{0,15}\b(saved|stored) (on|in) (my|the) account\b",
        r"saved card|stored card|card details|payment details",
    ),
    _topic(
        "security",
        r"\bhack\w*|\bsomeone (else )?(has )?(logged|got|broke|broken) in(to)?\b|\bunauthori[sz]ed\b|\bfraud\w*"
        r"|\b(site|website|checkout|payment page)\b[^.!?]{0,10}\bsecure\b|\bsafe to (pay|enter|use)\b|\bphishing\b|\b(is (this|that|it) a )scam\b|\bscam (text|email|call|message)\b|\bwasn'?t me\b"
        r"|\b(didn'?t|did not|never) (make|place|order) (this|that|the|an?) (order|purchase)\b",
        r"fraud|secur|scam|phish|hack|unauthori",
    ),
    _topic(
        "delivery_day",
        r"\b(deliver\w*|arrive|come|ship\w*|send|dispatch\w*|courier|post|lieferung|liefert|zustellung)\b[^.!?]{0,20}"
        r"\b(on )?(a |the )?(saturdays?|sundays?|weekends?|samstag\w*|sonntag\w*)\b|\b(saturday|sunday|weekend)"
        r" (delivery|deliveries|shipping|dispatch|post)\b|\b(specific|particular|certain|chosen|choose "
        r"(a|the|my)|pick (a|the|my)|named|preferred)\b[^.!?]{0,15}\b(day|date|time|slot)\b|\b(delivery|time) slots?\b"
        r"|\bdelivery date\b|\bwunschtermin\b",
        r"saturday|sunday|weekend|named day|(choose|pick) (a|the|your) (delivery )?(day|date)|slot|samstag|sonntag",
    ),
    _topic(
        "courier",
        r"\b(which|what) (courier|carrier|delivery (company|firm|service))\b|\b(royal mail|dpd|dhl|ups|evri|hermes|"
        r"parcelforce|fedex|yodel)\b[^.!?]{0,15}\bor\b[^.!?]{0,15}\b(royal mail|dpd|dhl|ups|evri|hermes|parcelforce|"
        r"fedex|yodel)\b|\bdo you (use|ship with|send with) (royal mail|dpd|dhl|ups|evri|hermes|parcelforce|fedex)\b",
        r"(we use|we ship with|sent with|sent by|delivered by|our courier (is|are)) (royal mail|dpd|dhl|ups|evri|"
        r"hermes|parcelforce|fedex|yodel|\w+ courier)",
    ),
    _topic(
        "delivery_instructions",
        r"\bneighbou?rs?\b|\bsafe place\b|\bleave (it|the parcel|the package|my parcel)\b|\bporch\b|\bparcel "
        r"(locker|shop|point)s?\b|\blockers?\b|\bpick-?up points?\b|\bp\.?o\.? box(es)?\b|\bnachbar\w*|\bpackstation\b"
        r"|\b(left|dumped|thrown|threw|lobbed|chucked|tossed|flung)\b[^.!?]{0,25}\b(outside|on the (door ?step|porch|"
        r"street|pavement)|in the (rain|bin|garden|bush|hedge)|by the (door|bins?|gate)|over the (gate|fence|wall|hedge)"
        r")\b|\bvor die tür gestellt\b"
        r"|\b(hold|keep)\b[^.!?]{0,20}\b(parcel|package|order|delivery)\b[^.!?]{0,25}\b(holiday|away|vacation)\b"
        r"|\bnot (at )?home\b|\bnobody (is )?(at )?home\b|\bmissed (the |my )?(delivery|courier|parcel)\b"
        r"|\bnicht zu ?hause\b|\bnote for the (driver|courier|postman|delivery (driver|man))\b|\b(in|behind) (the|my) "
        r"(shed|garage|bin|porch)\b",
        r"neighbou?r|safe place|locker|pick-?up point|packstation|delivery instructions|not (at )?home|redeliver",
    ),
    _topic(
        "personalisation",
        r"\bengrav\w*|\bpersonali[sz]e (it|them|this|that|the|a|an|my|with)\b|\bmonogram\w*|\bbespoke\b|\bcustom "
        r"(print\w*|logo|design|made|message on)\b|\b(company|our|my|business) logos?\b|\bgravur\b|\bgravieren\b"
        r"|\b(names?|initials|text|messages?|photos?|pictures?)\b[^.!?]{0,15}\b(printed|put|added|engraved|embroidered) "
        r"(on|onto)\b",
        r"engrav|logo|monogram|bespoke|custom (print|design)|we personalise|personalisation (service|option)",
    ),
    _topic(
        "product_care",
        r"\bdishwasher\b|\bmicrowave\b|\boven[- ]?(safe|proof)\b|\bfood[- ]safe\b|\bvegan\b|\ballergen\w*|\bgluten\b"
        r"|\bnut[- ]free\b|\bsafe (for|around|with) (pets?|cats?|dogs?|kids|children|babies|toddlers)\b|\bbatter(y|ies)\b"
        r"|\bbpa\b|\bnon-?toxic\b|\bingredients?\b|\bwashable\b|\bmachine wash\w*|\bspülmaschine\w*|\bmikrowelle\w*"
        r"|\bhand-?made\b|\bmade in (china|the uk|britain|england|india|europe|germany)\b|\bfair ?trade\b|\bethical\w*"
        r"|\bwhere\b[^.!?]{0,35}\b(made|sourced|come from|manufactured|produced)\b"
        r"|\bwhat (is|are) (it|they|the \w+) made (of|from)\b|\bsize guide\b|\bdimensions?\b",
        r"dishwasher|microwave|allergen|batter|material|dimension|size guide|vegan|ingredient|care instructions",
    ),
    _topic(
        "assembly",
        r"\bassembl\w*|\bput (it|them|this|that) together\b|\b(instruction|user) (manual|leaflet|booklet)s?\b"
        r"|\binstructions (for|on how|to)\b|\bhow (do i|to) (set up|install|fit|mount|hang)\b|\baufbau\w*|\bmontage\w*"
        r"|\baufbauanleitung\b",
        r"assembl|instructions|manual|aufbau|montage",
    ),
    _topic(
        "used_goods",
        r"\brefurbish\w*|\bsecond[- ]hand\b|\bpre-?(owned|loved)\b|\bused (items?|goods|products|ones?)\b"
        r"|\b(ex-display|display models?|seconds|b-?stock)\b|\bgebraucht\w*",
        r"refurbish|second[- ]hand|pre-?owned|ex-display|gebraucht",
    ),
    _topic(
        "payment_terms",
        r"\bpayment terms\b|\b(30|60|90|thirty|sixty|ninety)[- ]days? (payment |credit )?(terms|credit|invoic\w*)\b"
        r"|\bnet ?(30|60|90)\b|\btrade credit\b|\bcredit (account|terms|limit)\b|\bzahlungsziel\b",
        r"payment terms|credit account|trade credit|days to pay|zahlungsziel",
    ),
    _topic(
        "printer",
        r"\bprinters?\b|\b(can'?t|cannot|unable to|no way to) print\b|\bdrucker\b",
        r"printer|print (the|your) label|no printer|drucker",
    ),
    _topic(
        "returns_from_abroad",
        r"\b(return\w*|send\w* (it |them )?back|rücksend\w*|zurückschick\w*)\b[^.!?]{0,80}\b(from|in|to) (ireland|abroad|"
        r"overseas|outside (the )?uk|the eu|europe|germany|france|spain|italy|the netherlands|holland|belgium|austria"
        r"|switzerland|the us|the usa|america|canada|australia|deutschland|österreich|der schweiz)\b"
        r"|\b(live|living|based) (in|abroad) (ireland|germany|france|spain|italy|the netherlands|austria|switzerland"
        r"|the us|the usa|america|canada|australia|the eu|europe|overseas|abroad)\b[^.!?]{0,60}\b(return\w*|label"
        r"|send\w* (it |them )?back)\b",
        r"return\w* from abroad|international returns|returns from (the eu|abroad)",
    ),
    _topic(
        "exchange",
        r"\b(swap|exchange|umtausch\w*|tausch\w*)\b[^.!?]{0,50}\b(instead of|rather than|statt|anstatt)\b[^.!?]{0,25}"
        r"\b(refund|money|geld|erstattung)|\bexchange (it |this |them )?for (a|an|another|the) (different|other|bigger"
        r"|smaller|larger)\b|\bumtausch\w* gegen\b|\bgegen (eine|einen|ein) (andere\w*|größere\w*|kleinere\w*)\b",
        r"exchange (it|an item|for a different)|swap (it|for)|umtauschen gegen",
    ),
    _topic(
        "code_not_received",
        r"\bcode\b[^.!?]{0,30}\b(never (arrived|came|turned up)|didn'?t (arrive|come)|hasn'?t (arrived|come)|not "
        r"(arrived|received))\b|\b(never|didn'?t|haven'?t) (got|get|gotten|receive\w*) (the|my|a|an|any) ?(\w+ )?"
        r"(discount |welcome |promo )?code\b|\bcode (ist )?nie angekommen\b|\bkeinen code bekommen\b",
        r"code (didn'?t|doesn'?t|never) (arrive|come)|resend (the|your) code",
    ),
    _topic(
        "wrapping_design",
        r"\b(gift ?wrap\w*|wrapping|paper)\b[^.!?]{0,30}\b(look like|colou?rs?|designs?|patterns?|christmas paper|plain"
        r"|ribbons?|bows?)\b",
        r"wrapping (paper )?(design|pattern|colou?r)|ribbon|our wrapping (is|comes)",
    ),
    _topic(
        "store_credit",
        r"\bstore credit\b|\bcredit note\b|\b(account|shop|site) credit\b|\bguthaben statt\b",
        r"store credit|credit note",
    ),
    _topic(
        "gift_card_cash",
        r"\b(swap|exchange|turn|convert|trade)\b[^.!?]{0,25}\b(gift ?cards?|e-?gift|vouchers?|gutschein\w*)\b[^.!?]{0,20}\b"
        r"(for|into) (cash|money)\b|\b(gift ?cards?|vouchers?|e-?gift)\b[^.!?]{0,25}\b(for|into) (cash|money)\b"
        r"|\bcash (it|them|my (gift ?card|voucher)) in\b|\bgutschein\w*\b[^.!?]{0,25}\bauszahl\w*",
        r"cash|not exchangeable|auszahl",
    ),
    _topic(
        "several_gift_cards",
        r"\b(two|2|three|3|multiple|several|more than one) (gift ?cards|e-?gift cards|vouchers|gutscheine)\b",
        r"(more than one|two|several|multiple) (gift cards|vouchers)|combine gift cards",
    ),
    _topic(
        "card_design",
        r"\b(photo|picture|logo|image)\b[^.!?]{0,25}\b(gift ?card|e-?gift|voucher)\b|\b(gift ?card|e-?gift|voucher)\b"
        r"[^.!?]{0,25}\b(photo|picture|image|designs?)\b",
        r"card design|choose a design|photo on (the|your) (gift )?card",
    ),
    _topic(
        "message_length",
        r"\b(character|word|letter) (limit|count|maximum)\b|\bhow (long|many (characters|words))\b[^.!?]{0,20}\b(message"
        r"|note)\b|\b(message|note)\b[^.!?]{0,20}\b(how long|max\w*|limit)\b",
        r"characters|word limit|up to \d+ words",
    ),
    _topic(
        "surcharge",
        r"\bsurcharges?\b|\b(fee|charge|extra)\b[^.!?]{0,20}\bfor (paying|using|payment) (with|by|via)\b|\bcard (fee|charge)s?\b"
        r"|\bgebühr\w* (für|bei) (zahlung|paypal|kreditkarte)\b",
        r"surcharge|no (card )?fee|fee for paying",
    ),
    _topic(
        "payment_timing",
        r"\bwhen (exactly )?(do|will|is|does) (you|the payment|my card|it|the money)\b[^.!?]{0,15}\b(take|taken|charge|"
        r"charged|debit|debited|leave|come out)\b|\bwann wird\b[^.!?]{0,25}\b(abgebucht|belastet)\b",
        r"(charged|take payment|debited) (when|at|once)|abgebucht",
    ),
    _topic(
        "public_holidays",
        r"\b(bank|public) holidays?\b|\bfeiertag\w*|\bchristmas (eve|day|closing|opening)\b|\bboxing day\b",
        r"bank holiday|public holiday|feiertag|christmas (closing|opening)",
    ),
    _topic(
        "shop_address",
        r"\b(your|the company'?s|your company'?s|head office|registered) (postal |post |mailing |office )?address\b"
        r"|\baddress (to|i can) (write|send a letter|post)\b|\b(eure|ihre) (post)?(anschrift|adresse)\b",
        r"our (postal )?address|write to us at|registered office",
    ),
    _topic(
        "social_login",
        r"\b(log ?in(to)?|sign ?in(to)?|login|anmelden)\b[^.!?]{0,25}\b(with|via|using|über|mit) (my )?(google|facebook|apple)\b",
        r"(sign|log) in with (google|facebook|apple)",
    ),
    _topic(
        "guest_order_link",
        r"\bguest\b[^.!?]{0,60}\b(add|link|move|attach|transfer)\b[^.!?]{0,30}\baccount\b|\b(add|link|move|attach) (that|my"
        r"|the|a) (guest )?order\b[^.!?]{0,20}\b(to )?(my |the )?(new )?account\b",
        r"guest order|link (an |your )?order",
    ),
    _topic(
        "cookies",
        r"\bcookies?\b",
        r"cookie",
    ),
    _topic(
        "export_vat",
        r"\b(vat|mwst|mehrwertsteuer)\b[^.!?]{0,30}\b(off|removed|deduct\w*|exempt\w*|zero[- ]rated|abzieh\w*|erlass\w*"
        r"|abgezogen)\b|\b(tax|vat)[- ]free\b|\bexport (orders?|prices?|sales?)\b",
        r"vat[- ]free|without vat for|export orders",
    ),
    _topic(
        "customs_paperwork",
        r"\b(customs|zoll)\w*\b[^.!?]{0,25}\b(forms?|declarations?|paperwork|papers|formular\w*|erklärung)\b"
        r"|\bzollformular\w*|\bzollerklärung\w*",
        r"customs (form|declaration|paperwork)|zollformular|zollerklärung",
    ),
    _topic(
        "restricted_items",
        r"\bthings (you|u) (won'?t|can'?t|don'?t) (send|ship|deliver)\b|\brestricted (items|goods|products)\b"
        r"|\b(candles?|diffusers?|liquids?|batter(y|ies)|aerosols?|perfume|knives)\b[^.!?]{0,30}\b(abroad|overseas|"
        r"internationally|by air|to (the )?(us|usa|australia|canada))\b|\b(can|are) (you|u) (allowed to )?(send|ship)\b"
        r"[^.!?]{0,20}\b(candles?|diffusers?|liquids?|batter(y|ies)|aerosols?)\b",
        r"restricted|can'?t (be )?(sent|shipped)|cannot ship",
    ),
    _topic(
        "dispatch_location",
        r"\bwhere (do|does|is) (you|it|everything|the (parcel|order)s?) (ship|send|dispatch\w*|come|sent)( out)? from\b"
        r"|\bwarehouses? in\b|\bdo you have a warehouse\b|\b(ship|dispatch\w*|sent|come) from (the uk|europe|the eu|"
        r"where)\b|\bwoher (kommt|wird) (das paket|die ware|die lieferung)\b",
        r"ship (everything )?from|dispatched from|our warehouse (is )?in",
    ),
    _topic(
        "return_collection",
        r"\b(collect|pick(ed)? up|abholen|abgeholt)\b[^.!?]{0,30}\b(my |the |a )?(return|rücksendung|retoure)\b"
        r"|\b(return|rücksendung|retoure)\b[^.!?]{0,40}\b(collected|picked up|abgeholt)\b|\bcourier collection\b"
        r"|\bbei mir (zu hause )?abgeholt\b",
        r"collect(ion of)? (your|the) return|pick up (your|the) return|abholung",
    ),
    _topic(
        "notification_email",
        r"\b(send|get|receive|bekomme)\b[^.!?]{0,20}\b(an? |some kind of |any |eine )?(e-?mail|notification|message"
        r"|bestätigung)\b[^.!?]{0,30}\b(once|when|after|confirming|sobald|wenn)\b[^.!?]{0,40}\b(refund\w*|cancel\w*|"
        r"return\w*|erstatt\w*|storn\w*)",
        r"e-?mail (you )?(when|once) (the |your )?(refund|cancel)|(refund|cancellation) confirmation",
    ),
    _topic(
        "compensation",
        r"\b(get|give|have) (me |us )?(anything|something|a bit) off\b|\bcompensation\b|\bgoodwill\b"
        r"|\bentschädigung\b|\bdiscount for (the )?(damage|damaged (box|packaging)|inconvenience|delay)\b",
        r"compensation|goodwill|money off for",
    ),
    _topic(
        "code_extension",
        r"\b(code|voucher|gutschein\w*)\b[^.!?]{0,30}\b(expired|abgelaufen)\b[^.!?]{0,50}\b(extend|reactivat\w*|renew|"
        r"still use|verlänger\w*)|\b(extend|verlänger\w*)\b[^.!?]{0,20}\b(code|voucher|gutschein)\b",
        r"expired code|extend (a |the |your )?code",
    ),
    _topic(
        "sustainability",
        r"\bplastic[- ]free\b|\b(is|are) (it|they|the \w+|your \w+) plastic\b|\brecycl\w*|\beco[- ]?friendly\b"
        r"|\bsustainab\w*|\bbiodegradable\b|\bcompostable\b|\bcarbon\b|\bnachhaltig\w*|\bumweltfreundlich\w*",
        r"recycl|plastic|sustainab|eco|compost|carbon",
    ),
    _topic(
        "reviews",
        r"\b(leave|write|post|submit|add)\b[^.!?]{0,10}\breviews?\b|\btrustpilot\b|\bbewertung\w*",
        r"review|trustpilot|bewertung",
    ),
    _topic(
        "app_or_social",
        # "a code from instagram" is about the code.
        r"(?<!from )(?<!via )(?<!on )\b(app|apps|iphone|android|instagram|insta|facebook|tiktok|twitter|pinterest"
        r"|social media|youtube)\b(?! (code|post|ad|advert|offer|discount))|\b(are|r) (you|u) on (instagram|insta|"
        r"facebook|tiktok|twitter|pinterest|youtube)\b",
        r"\b(app|iphone|android|instagram|facebook|tiktok|twitter|pinterest|social media|youtube)\b",
    ),
    _topic(
        "marketplaces",
        r"\b(etsy|amazon|ebay|marketplaces?)\b",
        r"etsy|amazon|ebay|marketplace",
    ),
    _topic(
        "price_adjustment",
        r"\b(price|cost)\b[^.!?]{0,15}\b(drop\w*|went down|gone down|reduced|adjust\w*)\b|\bprice[- ]adjust\w*|\b(now|gone|went|is) (in|on)"
        r" (the |your |a )?sale\b|\bsale price\b|\bthe difference( back)?\b|\bpreis\w* gesenkt\b"
        r"|\b(now|today)\b[^.!?]{0,30}\b(for|at) £?\d+([.,]\d\d)?\b[^.!?]{0,40}\b(paid|bought|ordered)\b"
        r"|\b(paid|bought|ordered)\b[^.!?]{0,60}\b(now|today)\b[^.!?]{0,30}\b(cheaper|less|reduced|for £?\d)",
        r"price (adjustment|drop|protection)|the difference|\bsale price",
    ),
    _topic(
        "pay_later",
        r"\breserve\b|\bput\b[^.!?]{0,15}\b(aside|on hold)\b|\bhold\b[^.!?]{0,15}\b(for me|until)\b|\bpay (for it |for "
        r"them )?later\b|\binstal?l?ments?\b|\bklarna\b|\bclearpay\b|\bafterpay\b|\blaybuy\b|\bbuy now,? pay later\b"
        r"|\b(on|with) finance\b|\bfinanc(e|ing) (options?|plans?|deals?|available)\b|\bratenzahlung\b|\bin raten\b|\bsplit\b[^.!?]{0,15}\b(payment|cost|bill)\b"
        r"|\b(two|2|several|multiple|more than one) (different )?(cards|payment methods)\b",
        r"reserve|on hold|pay later|instal|klarna|clearpay|afterpay|laybuy|financ|raten|split|more than one card",
    ),
    _topic(
        "corporate_gifts",
        r"\bcorporate\b|\bhampers?\b|\b(staff|employee|client|customer) gifts?\b|\bbranded\b|\bfirmengeschenk\w*",
        r"corporate|hamper|branded|business gifts",
    ),
    _topic(
        "catalogue_or_samples",
        r"\bcatalogue\b|\bbrochure\b|\b(printed|paper) catalog\b|\bfree samples?\b|\bsamples?\b|\bswatch\w*|\bkatalog\b",
        r"catalogue|brochure|sample|swatch|katalog",
    ),
    _topic(
        "donations",
        r"\bdonat\w*|\bsponsor\w*|\braffle\b|\bfundrais\w*|\bspende\w*",
        r"donat|sponsor|raffle|fundrais|spende",
    ),
    _topic(
        "partnerships",
        r"\baffiliate\w*|\binfluencer\w*|\bcollab\w*|\bpartnership\w*|\b(become|be) (a|your) (supplier|partner|"
        r"vendor)\b|\bsupply (you|your shop)\b|\blieferant\w*"
        r"|\bsell (my|our) (own )?(products|items|goods|work|art|crafts?)\b[^.!?]{0,20}\b(through|on|in|via|with) "
        r"(your|the) (shop|store|site|website)\b|\b(stock|carry) (my|our) (products|items|goods|brand|range)\b",
        r"affiliate|influencer|partner|supplier|collab|lieferant",
    ),
    _topic(
        "gift_card_balance",
        r"\bbalance\b|\b(how much|what'?s|what is) (is )?(left|remaining) on\b|\bguthaben\b|\brestbetrag\b"
        r"|\bteilweise einl\w*|\bden rest (später )?(nutzen|verwenden|einlösen)\b|\b(spend|use) (only )?(part|some) of "
        r"(a|my|the) (gift card|voucher)\b|\buse the rest (later|another time)\b"
        r"|\bless (money|credit) than\b",
        r"balance|guthaben|left on",
    ),
    _topic(
        "registry",
        r"\b(gift|wedding|baby) (list|registry)\b|\bwish ?lists?\b|\bmerkzettel\b|\bwunschliste\b",
        r"gift list|registry|wish ?list|wunschliste|merkzettel",
    ),
    _topic(
        "launches",
        r"\b(when|what date)\b[^.!?]{0,30}\b(launch\w*|sale (start|begin)s?|new (range|collection)|christmas range)\b"
        r"|\bblack friday\b|\b(january|summer|winter|boxing day) sale\b",
        r"launch|black friday|sale (start|begin|date)|new collection",
    ),
    _topic(
        "group_discount",
        r"\b(students?|nhs|military|armed forces|veterans?|pensioners?|seniors?|teachers?|key ?workers?|blue light)\b"
        r"[^.!?]{0,20}\b(discounts?|deals?|offers?|money off|rabatt)\b|\b(discounts?|rabatt)\b[^.!?]{0,15}\bfor "
        r"(students|nhs|teachers|key workers|pensioners|seniors|the military|veterans)\b|\bstudentenrabatt\b",
        r"student|nhs|military|key worker|blue light|pensioner|veteran",
    ),
    _topic(
        "company_details",
        r"\bcompany (number|registration|reg)\b|\bregistered (office|address|company)\b|\bvat (number|registration)\b"
        r"|\bhandelsregister\b|\bust-?id\b",
        r"registered|company number|vat number|registration",
    ),
    _topic(
        "warranty",
        r"\bwarrant(y|ies)\b|\bgarantie\b",
        r"warrant|garantie",
    ),
    _topic(
        "order_confirmation",
        r"\b(no|never (got|had|received)|didn'?t (get|receive)|haven'?t (got|had|received)|not (got|received)) (an? |my "
        r"|the |any )?(order )?confirmation\b|\bconfirmation (email|e-mail|mail)\b[^.!?]{0,20}\b(never|not|didn'?t|"
        r"hasn'?t|has not)\b|\b(keine|nie eine) bestellbestätigung\b|\bbestellbestätigung\b[^.!?]{0,20}\b(nicht|nie)\b",
        r"confirmation (email )?(didn'?t|does ?n'?t|not|never)|(no|missing) (order )?confirmation|keine bestellbestätigung|bestellbestätigung (nicht|nie|fehlt)",
    ),
    _topic(
        "cancelled_by_shop",
        r"\b(why|how come)\b[^.!?]{0,25}\b(order|it)\b[^.!?]{0,15}\b(been |got |was )?cancel+ed\b|\byou cancel+ed my "
        r"order\b|\bmy order (was|has been|got) cancel+ed\b|\bwhy (did|have|has|would) (you|they|u) cancel+(ed)? (my|our|"
        r"the) order\b",
        r"we (may )?cancel|cancelled by us|why (an |your )?order (was|is|gets) cancel",
    ),
    _topic(
        "phone_order",
        r"\b(order|buy|pay)\b[^.!?]{0,15}\b(by|over the|on the) (tele)?phone\b",
        r"order by phone|over the phone|phone order|telefonisch",
    ),
    _topic(
        "site_language",
        r"\b(change|switch|set)\b[^.!?]{0,20}\blanguage\b|\bsprache\b[^.!?]{0,20}\bändern\b",
        r"language|sprache",
    ),
    _topic(
        "insurance",
        r"\binsur\w*|\bversicher\w*",
        r"insur|versicher",
    ),
    _topic(
        "paper_documents",
        r"\b(paper|printed|hard) (copy|copies|invoice|receipt)\b|\b(invoice|receipt)\b[^.!?]{0,15}\bby post\b",
        r"by post|paper (copy|invoice)|printed (copy|invoice)",
    ),
    _topic(
        "website_fault",
        r"\berror ?(\d{3}|code|message)\b|\b(site|website|page|app|checkout|basket|cart)\b[^.!?]{0,25}\b(crash\w*|"
        r"down|not loading|won'?t load|freez\w*|glitch\w*|broken)\b|\bkeeps? crashing\b|\bfehlermeldung\b"
        r"|\bbutton\b[^.!?]{0,15}\b(does nothing|doesn'?t (do anything|work)|not working|broken)\b"
        r"|\b(promo|offer|newsletter|email) link\b[^.!?]{0,15}\b(broken|dead|doesn'?t work|not working)\b"
        r"|\bseite lädt nicht\b",
        r"error|crash|not loading|technical|browser|cache|cookies",
    ),
)


def named_topics(text: str) -> list[SupportTopic]:
    """The support topics ``text`` asks about."""
    return [topic for topic in TOPICS if topic.asked.search(text)]


def serves(topic: SupportTopic, texts: Iterable[str]) -> bool:
    """Whether an entry with these texts (its questions and answers) explains ``topic``."""
    return any(topic.explained.search(text) for text in texts)
