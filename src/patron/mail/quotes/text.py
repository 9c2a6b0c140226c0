# ruff: noqa: RUF001, RUF003  (the patterns match other languages' letters and punctuation on purpose)
"""Split a plain-text body into the new text and the quoted history + signature.

Plain text is classified line by line (text, empty, `>`-quote, "On … wrote:" attribution or
forward marker, header line, short mobile signature, delimiter), then cut:

1. at the first point after some new text where the history starts for certain: a signature
   delimiter (`-- `), a rule of dashes, underscores or dots (not a heading underline, nor a
   short "---" between long paragraphs), a header block ("From: … Sent: … To: …" in some
   thirty languages, in any order, or flattened onto one line), an attribution / forward
   marker followed by *unquoted* text (Outlook, forwarded mail), or a phone client's "Sent from
   my …" with the original right below it;
2. then every trailing quote, attribution, signature and rule goes too;
3. an attribution and quote that open the message, followed by the whole reply (bottom
   posting) are dropped, and so are a "Sent from my …" line or a mail gateway's
   external-sender warning opening it; interleaved (inline) replies keep their quotes, since
   the answers only make sense next to them.

If nothing is left that looks like new text (a bare forward, a message that is only a quote),
the whole body is the reply: better an agent reads a quote than an empty message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Split:
    # the new text (stripped of trailing whitespace)
    reply: str
    # everything removed: quoted history, "On … wrote:" header, signature ("" if nothing)
    quoted: str


# --- line kinds ----------------------------------------------------------------------------------

TEXT = "t"
EMPTY = "e"
QUOTE = "q"
ATTRIBUTION = "b"  # "On … wrote:", "-----Original Message-----", "Begin forwarded message:"
HEADER = "h"  # "From: …", "Sent: …" inside a header block
SIGNATURE = "s"  # "Sent from my iPhone" and friends
DELIMITER = "d"  # a line of dashes, underscores …
SIG_DASHES = "x"  # "-- " (RFC 3676 signature separator) or "--"

_TIME_OR_DATE = re.compile(r"\d")
_LINKS = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")  # markdown links: keep the label
_URLS = re.compile(r"<(?:https?://|mailto:)[^<>\n]*>|\(?\s*https?://\S+\)?")

# "On <date>, <name> wrote:" — the keyword that opens the line and the verb that closes it.
_OPENERS = (
    r"Am\s.{1,300}?\b(?:schrieben Sie|geschrieben|schrieb)",
    r"Le\s.{1,300}?\b(?:a\s+écrit|nous a dit)",
    r"El\s.{1,300}?\bescribió",
    r"Op\s.{1,300}?\b(?:het\s+volgende\s+geschreven|schreef)",
    r"Em\s.{1,300}?\bescreveu",
    r"Pada\s.{1,300}?\bmenulis",
    r"Il\s.{1,300}?\bha\s+scritto",
    r"(?:Dnia|Dňa)\s.{1,300}?\bnapisał(?:\(a\))?",
    r"(?:Den|På)\s.{1,300}?\bskrev",
    r"在.{1,300}?写道",
)
# Languages that put the verb last ("On <date>, <name> wrote:"): it must end the line.
_LAST_VERBS = (
    r"wrote|writes|escribió|escreveu|a\s+écrit|nous a dit|menulis|ha\s+scritto|kirjoitti|"
    r"yazdı|napsal|napsala|napísal|írta|書きました|写道|napisał(?:\(a\))?|napisała|pisze|"
    r"написал(?:\(а\))?|написала|написав|написала|пише|ha\s+escrit|va\s+escriure|a\s+scris|"
    r"έγραψε|كتب|đã\s+viết|viết|작성|のメッセージ|skrifaði|rašė|rakstīja|kirjutas"
)
# Languages that may put the name after it ("Am <date> schrieb <name> <addr>:").
_VERBS = rf"{_LAST_VERBS}|schrieb|schreef|skrev|het\s+volgende\s+geschreven|geschrieben"
_LAST = r"\s*[:：]?[\s.>\-]*$"
# After the verb: either a colon ends the line (with the name or date in between), or nothing.
_END = r"(?:(?:[^:：\n]|(?<=\d):(?=\d)|(?<=mailto):){0,160}[:：]|\s*)[\s.>\-]*$"
_ATTRIBUTION_RES = (
    re.compile(r"^(?:On|At)\s.{1,300}?\b(?:wrote|writes)" + _LAST, re.I),
    re.compile(r"^In message\s.{1,300}?\bwrites" + _LAST, re.I),
    re.compile(rf"^(?:{'|'.join(_OPENERS)})(?!\w){_END}", re.I),
    re.compile(rf"^.{{1,300}}?(?<!\w)(?:{_LAST_VERBS})(?!\w){_LAST}", re.I),
    # Chinese, Japanese, Korean: the verb follows the date or name with no space
    # ("Support <help@example.com> 于2025年1月6日周一 10:00写道：")
    re.compile(rf"^.{{1,300}}?(?:写道|寫道|書きました|のメッセージ|작성){_LAST}"),
    # "<name> schrieb am <date>:" (Gmail in German), "<name> wrote on <date>:"
    re.compile(r"^.{1,300}?(?<!\w)(?:schrieb|wrote)\s+(?:am|on)\s.{1,120}?[:：]\s*$", re.I),
    # "søn. 30. apr. 2017 kl. 00.26 skrev <name> <addr>:"
    re.compile(rf"^.{{1,40}}?\bkl\.?\s.{{1,200}}?\bskrev(?!\w){_END}", re.I),
    # "2016-10-24 15:36 GMT+02:00 Foo bar <info@foo.bar>:", "2013/7/20 sam <info@…>",
    # "пн, 6 янв. 2025 г. в 10:00, Support <help@example.com>:"
    re.compile(
        r"^(?=\d|.{0,60}\b\d{1,2}:\d{2}\b).{0,40}\d{4}.{1,80}<\s*[^<>@\s]+@[^<>\s]+\s*>\s*:?\s*$"
    ),
)
# "Test user <test@example.com> schrieb:", "jane@example.com wrote:": no date, but an address
# and the verb closing the line.
_UNDATED_RE = re.compile(
    rf"^.{{0,80}}?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\]?\)?>?\s*(?:{_VERBS})\s*[:：]\s*$", re.I
)
_ATTRIBUTION_HINT = re.compile(
    rf"(?<!\w)(?:{_VERBS}|said|says|geschrieben|nous a dit|het volgende geschreven)(?!\w)|@",
    re.I,
)
_FORWARD_PHRASES = (
    "forwarded message|original message|reply message|forwarded e-?mail|"
    "begin forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|"
    "anfang der weitergeleiteten nachricht|message d'origine|message original|"
    "message transféré|début du message (?:réexpédié|transféré)|mensaje original|"
    "mensaje reenviado|inicio del mensaje reenviado|mensagem original|mensagem encaminhada|"
    "início da mensagem reencaminhada|oorspronkelijk bericht|doorgestuurd bericht|"
    "origineel bericht|messaggio originale|messaggio inoltrato|inizio messaggio inoltrato|"
    "pesan asli|pesan yang diteruskan|pesan terusan|opprinnelig melding|videresendt melding|"
    "ursprungligt meddelande|vidarebefordrat meddelande|oprindelig meddelelse|"
    "исходное сообщение|пересылаемое сообщение|原始邮件|转发的邮件|原始郵件|"
    "original-nachricht|ursprungliche nachricht|originalnachricht|weitergeleitete e-mail|"
    "oryginalna wiadomość|wiadomość oryginalna|przekazana wiadomość|wiadomość przekazana|"
    "původní zpráva|přeposlaná zpráva|pôvodná správa|preposlaná správa|eredeti üzenet|"
    "továbbított üzenet|mesaj original|mesajul original|mesaj redirecționat|mesaj transmis|"
    "orijinal mesaj|özgün ileti|iletilen ileti|alkuperäinen viesti|välitetty viesti|"
    "αρχικό μήνυμα|προωθημένο μήνυμα|thư gốc|thư chuyển tiếp|tin nhắn gốc|"
    "元のメッセージ|転送されたメッセージ|원본 메시지|전달된 메시지|оригінальне повідомлення|"
    "переслане повідомлення|videresendt meddelelse|oprindelig besked|videresendt besked|"
    "messaggio di origine|mensaje de origen|mensagem de origem|doorgestuurde e-mail|"
    "الرسالة الأصلية|رسالة معاد توجيهها|הודעה מקורית|הודעה שהועברה"
)
_FORWARD_RE = re.compile(
    rf"^[\s>*_]*-*\s*(?:{_FORWARD_PHRASES})\s*-*[\s*_]*[:：]?[\s*_]*-*\s*$", re.I
)
_FROM_NAMES = (
    "from|von|de|de la|van|da|fra|från|dari|od|от|від|发件人|寄件者|差出人|nadawca|feladó|"
    "kimden|lähettäjä|από|từ|보낸 사람|من|מאת|afzender|remitente|remetente|expéditeur"
)
_DATE_NAMES = (
    "sent|date|gesendet|datum|envoyé|enviado|enviada em|fecha|verzonden|verstuurd|data|"
    "inviato|sendt|skickat|dikirim|tanggal|wysłano|отправлено|дата|发送时间|日期|送信日時|"
    "envoyé le|enviado el|enviado em|inviato il|odesláno|odoslané|elküldve|dátum|trimis|"
    "gönderildi|tarih|lähetetty|päivämäärä|στάλθηκε|ημερομηνία|đã gửi|ngày|보낸 날짜|날짜|"
    "надіслано|تم الإرسال|التاريخ|נשלח|תאריך|enviat|data wysłania"
)
_OTHER_NAMES = (
    "to|cc|bcc|subject|reply-to|an|kopie|betreff|objet|à|a|para|asunto|assunto|cc/cco|"
    "aan|onderwerp|oggetto|risposta|til|emne|till|ämne|kepada|perihal|subjek|do|temat|"
    "кому|тема|копия|收件人|主题|抄送|件名|宛先|adresat|dw|komu|předmět|kópia|predmet|"
    "címzett|másolat|tárgy|către|subiect|kime|konu|vastaanottaja|aihe|kopio|προς|κοιν|θέμα|"
    "đến|chủ đề|받는 사람|참조|제목|до|копія|إلى|نسخة|الموضوع|אל|נושא|per a|assumpte|"
    "destinataire|destinatario|destinatário"
)
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\ufeff"
_NO_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))
_HEADER_RE = re.compile(
    rf"^[\s>{_INVISIBLE}]*\*{{0,2}}({_FROM_NAMES}|{_DATE_NAMES}|{_OTHER_NAMES})\*{{0,2}}"
    rf"\s*[:：]\s*\*{{0,2}}\s*\S",
    re.I,
)
# An Outlook header block flattened onto one line ("Temat: RE: x 2023-01-17 13:46Nadawca: …
# Adresat:"): a header name opens the line and at least two more "Name:" follow.
_HEADER_NAME_IN_LINE = re.compile(
    rf"(?:(?<![^\W\d_])|(?<=\d))({_FROM_NAMES}|{_DATE_NAMES}|{_OTHER_NAMES})\s*[:：]", re.I
)
_FROM_RE = re.compile(rf"^(?:{_FROM_NAMES})$", re.I)
# "-------- Ursprüngliche Nachricht --------Von: …": a forward marker with the header after it
_FORWARD_THEN_HEADER = re.compile(
    rf"^[\s>*_]*-+\s*(?:{_FORWARD_PHRASES})\s*-+\s*(?:{_FROM_NAMES}|{_DATE_NAMES})\s*[:：]", re.I
)
_DATE_RE = re.compile(rf"^(?:{_DATE_NAMES})$", re.I)

# Short lines a mail client appends on its own.
_DEVICE_SIGNATURE_RES = tuple(
    re.compile(p, re.I)
    for p in (
        # "Sent from my iPhone", "Sent with Airmail", "(Sent from mobile device)",
        # "Sent from my cell, please excuse any typos." — but not "Sent from my desk, is …"
        r"^[(<\s]*sent (?:from|via|with|by|using|on) [^,.;!?()<>]{1,60}"
        r"(?:[,.;!]\s*(?:please|pls|excuse|sorry)\b.{0,60})?[.!)>\s]*$",
        r"^\w+ from (?:my )?mobile\b.{0,30}$",
        r"^from my (?:iphone|ipad|ipod|android|mobile|phone|cell|samsung|galaxy|blackberry|"
        r"smartphone|tablet|pixel)\b.{0,20}$",
        r"^(?:get|download) (?:the )?outlook for \w+.{0,40}$",
        r"^envoyé (?:de|depuis|à partir de|avec) (?:mon|ma|l'application|yahoo) .{1,40}$",
        r"^(?:télécharger|obtenir) outlook pour .{1,40}$",
        r"^von meinem .{1,40} gesendet\.?$",
        r"^gesendet (?:von|mit) (?:meinem|der|mobile) .{1,40}$",
        r"^diese nachricht wurde von .{1,80} gesendet\.?$",
        r"^outlook für \w+ (?:beziehen|herunterladen)$",
        r"^enviado (?:desde|do|de|com|con|pelo) (?:mi|meu|o meu|a|el|mi) .{1,40}$",
        r"^(?:obtener|descargar|baixar|obter) (?:el |o )?outlook para .{1,40}$",
        r"^(?:verzonden|verstuurd) (?:vanaf|vanuit|van|met|via) .{1,40}$",
        r"^inviato da(?:l mio)? .{1,40}$",
        r"^(?:sendt|skickat|sendt) (?:fra|från) min .{1,40}$",
        r"^från min .{1,40}$",
        r"^dikirim (?:dari|dengan) .{1,40}$",
        r"^отправлено (?:с|из) .{1,40}$",
        r"^(?:從我的|从我的)\s*\S+\s*(?:傳送|发送)$",
        r"^\S+\s*から送信$",
        # Polish, Czech/Slovak, Hungarian, Romanian, Turkish, Finnish, Greek, Vietnamese,
        # Korean, Ukrainian, Dutch "vanuit", Danish/Norwegian "sendt fra"
        r"^(?:wysłane|wysłano) (?:z|ze|przy użyciu) .{1,40}$",
        r"^(?:odesláno|odoslané) (?:z|zo|ze) .{1,40}$",
        r"^(?:az )?.{1,30}?(?:-?ról|-?ről|-?ómról|-?omról|-?emről|-?ömről) küldve\.?$",
        r"^trimis (?:de pe|din|cu|de la) .{1,40}$",
        r"^.{1,30}?(?:'?[uü]mdan|'?[iı]mdan|'?den|'?dan) gönderildi\.?$",
        r"^lähetetty .{1,40}$",
        r"^στάλθηκε από .{1,40}$",
        r"^(?:được )?gửi từ .{1,40}$",
        r"^.{1,30}에서 보냄$",
        r"^надіслано (?:з|із) .{1,40}$",
        r"^sendt (?:fra|från|med) .{1,40}$",
        r"^(?:sent from|envoyé depuis|enviado desde) (?:mail|courrier) (?:for|pour|para) "
        r"windows.{0,10}$",
    )
)

# The warning a mail gateway puts above a message from outside the organization
# ("CAUTION: This email originated from outside of the organization. Do not click links …").
_EXTERNAL_BANNER = re.compile(
    r"^\W{0,3}(?:caution|warning|attention|notice|external(?: email| sender| message)?|"
    r"achtung|attention|attenzione|atención|atenção|let op|uwaga|varning|advarsel)\W{0,3}\s*[:!\]-]"
    r".{0,300}?\b(?:external|outside|extern|externe|esterno|externo|zewnętrz|utanför|uden for)",
    re.I | re.S,
)
# "Sent from my <device>", "Sent from Mail for Windows", "Sent from Outlook for iOS"
_DEVICE_NAMED = re.compile(
    r"^[(<\s]*sent (?:from|using) (?:my \S|(?:the )?(?:mail|outlook|yahoo|gmail|aol|samsung|"
    r"proton|spark|blue ?mail|edison|airmail|newton|mobile mail)\b)",
    re.I,
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_DELIMITER_RE = re.compile(r"^\s*[-_=~#*+—–ᐧ]{2,}\s*$")
# "**. . . . . . . . . .**", "• • • • •": a footer rule of dots (five or more marks, no words)
_DOTTED_RULE_RE = re.compile(r"^\s*[*_]{0,2}(?:[.·•∙⋅]\s*){5,}[*_]{0,2}\s*$")
_SIGN_OFF = re.compile(r"^-[^\W\d_][\w.'’]*(?: [\w.'’]+){0,3}\s*$")  # "-Abhishek Kona"
_WRAPPED_START = re.compile(
    r"^[\s>*-]*(?:On|At|Am|Le|El|Op|Em|Pada|Il|Dnia|Dňa|Den|På|在|In message)\s"
)
_JOIN_SPAN = 5  # an attribution wrapped by a mail client spans at most this many lines


def _bare(line: str) -> str:
    return _URLS.sub("", _LINKS.sub(r"\1", _visible(line))).strip().strip("*_").strip()


def _is_device_signature(line: str) -> bool:
    bare = _bare(line)
    if not bare or len(bare) > 100:
        return False
    return any(r.search(bare) for r in _DEVICE_SIGNATURE_RES)


def _ends_the_reply(lines: list[str], kinds: list[str], i: int) -> bool:
    """Does the mobile signature at lines[i] close the reply even with text after it? Yes
    when history follows it, or when it names a device or mail app ("Sent from my Wiko",
    "Verzonden vanuit Outlook voor iOS"): phone clients put the original right below it,
    often without a header. Not for the looser English forms ("Sent with …", "Sent via …")."""
    after = _next_content(kinds, i + 1)
    if after is None or kinds[after] != TEXT:
        return True
    bare = _bare(lines[i])
    return not any(r.search(bare) for r in _DEVICE_SIGNATURE_RES[:2]) or bool(
        _DEVICE_NAMED.search(bare)
    )


def _attribution(candidate: str, *, undated: bool = True) -> bool:
    """Is candidate an "On … wrote:" line (or a forward marker)? undated: also accept one
    without a date, "<name> <addr> wrote:" (not when asking whether a wrapped one starts on
    this line: its second half is exactly that)."""
    text = re.sub(r"\s+", " ", _visible(candidate).lstrip(">*-_ \t")).strip()
    if not text or len(text) > 400:
        return False
    if not _TIME_OR_DATE.search(text):
        return undated and len(text) <= 160 and bool(_UNDATED_RE.match(text))
    if _FORWARD_RE.match(text):
        return True
    if not _ATTRIBUTION_HINT.search(text):
        return False
    return any(r.match(text) for r in _ATTRIBUTION_RES)


def _visible(line: str) -> str:
    """The line without zero-width and direction marks (Arabic and Hebrew clients add them)."""
    return line.translate(_NO_INVISIBLE).strip()


def _loose_attribution(line: str) -> bool:
    """ "Am 20.06.24 um 16:20 schrieb Klarstein": an attribution whose colon (or the rest of
    the name) is missing; trusted only right above a header block."""
    text = _visible(line)
    return (
        len(text) <= 200
        and bool(_TIME_OR_DATE.search(text))
        and bool(_WRAPPED_START.match(text))
        and bool(re.search(rf"(?<!\w)(?:{_VERBS})(?!\w)", text, re.I))
    )


def _one_line_header_block(line: str) -> bool:
    """Outlook's header block flattened onto one line by an HTML-to-text conversion."""
    if not _HEADER_RE.match(line) or len(line) > 600:
        return False
    names = {m.group(1).lower() for m in _HEADER_NAME_IN_LINE.finditer(line)}
    return len(names) >= 3 and any(_FROM_RE.match(n) for n in names)


def _header_name(line: str) -> str | None:
    match = _HEADER_RE.match(line)
    return match.group(1) if match else None


def _classify(lines: list[str]) -> list[str]:
    kinds: list[str] = []
    in_code = False
    for line in lines:
        if _FENCE.match(line):
            in_code = not in_code
            kinds.append(TEXT)
        elif in_code:
            kinds.append(TEXT)
        elif not _visible(line):
            kinds.append(EMPTY)
        elif line.rstrip() == "--":
            kinds.append(SIG_DASHES)
        elif _DELIMITER_RE.match(line) or _DOTTED_RULE_RE.match(line):
            kinds.append(DELIMITER)
        elif line.lstrip().startswith(">"):
            kinds.append(QUOTE)
        elif _FORWARD_RE.match(line) or _FORWARD_THEN_HEADER.match(line):
            kinds.append(ATTRIBUTION)
        elif _one_line_header_block(line):
            kinds.append(HEADER)
        elif _is_device_signature(line):
            kinds.append(SIGNATURE)
        else:
            kinds.append(TEXT)
    _mark_lazy_quotes(lines, kinds)
    _mark_attributions(lines, kinds)
    _mark_header_blocks(lines, kinds)
    return kinds


def _mark_lazy_quotes(lines: list[str], kinds: list[str]) -> None:
    """A quoted line the sender's client wrapped without repeating the ">": it follows a long
    quoted line with no blank between and carries on its sentence (starts in lower case)."""
    for i in range(1, len(lines)):
        if kinds[i] != TEXT or kinds[i - 1] != QUOTE:
            continue
        above = lines[i - 1].lstrip(" >").rstrip()
        first = lines[i].lstrip()[:1]
        if len(above) >= 60 and first.isalpha() and first.islower():
            kinds[i] = QUOTE


def _mark_attributions(lines: list[str], kinds: list[str]) -> None:
    """Mark "On … wrote:" lines, joining a header the client wrapped over several lines."""
    for i in range(len(lines)):
        if kinds[i] != TEXT:
            continue
        span = _attribution_span(lines, kinds, i)
        for k in range(i, i + span):
            kinds[k] = ATTRIBUTION


def _attribution_span(lines: list[str], kinds: list[str], i: int) -> int:
    """How many lines from lines[i] make one attribution (0 if it does not start one)."""
    found = 0
    may_wrap = bool(_WRAPPED_START.match(lines[i]) or _TIME_OR_DATE.search(lines[i]))
    for span in range(1, _JOIN_SPAN + 1):
        end = i + span
        if end > len(lines) or (span > 1 and not may_wrap):
            break
        last = kinds[end - 1]
        if span > 1 and last not in (TEXT, EMPTY, QUOTE):
            break
        if span > 1 and last == EMPTY:
            continue
        if span > 1 and (
            _WRAPPED_START.match(lines[end - 1]) or _attribution(lines[end - 1], undated=False)
        ):
            break  # the attribution starts on that line, not here
        if _attribution(" ".join(lines[i:end])):
            found = span
        elif found:
            break
        if found and len(lines[end - 1].strip()) > 40:
            break
    return found


def _mark_header_blocks(lines: list[str], kinds: list[str]) -> None:
    """Mark runs of "From:/Sent:/To:/Subject:" lines (Outlook's reply and forward header)."""
    i = 0
    while i < len(lines):
        name = _header_name(lines[i]) if kinds[i] == TEXT else None
        if name is None:
            i += 1
            continue
        names = [name]
        members = [i]
        j = i + 1
        while j < len(lines) and j - i < 12:
            if kinds[j] in (TEXT, ATTRIBUTION) and (other := _header_name(lines[j])):
                names.append(other)
                members.append(j)
            elif kinds[j] == TEXT and j - members[-1] == 1 and len(members) < 6:
                pass  # a wrapped header value ("To: a, b,\n c")
            else:
                break
            j += 1
        last = members[-1]
        starts_with_from = bool(_FROM_RE.match(names[0]))
        has_date = any(_DATE_RE.match(n) for n in names)
        if len(names) >= 3 or (len(names) >= 2 and starts_with_from and has_date):
            for k in range(i, last + 1):
                kinds[k] = HEADER
            i = last + 1
        else:
            i += 1


def _next_content(kinds: list[str], start: int) -> int | None:
    for k in range(start, len(kinds)):
        if kinds[k] != EMPTY:
            return k
    return None


def _section_break(lines: list[str], kinds: list[str], i: int) -> bool:
    """A rule that belongs to the text (a heading underline, a short "---" between
    paragraphs) rather than one that opens a footer, a signature or a quoted header."""
    rule = lines[i].strip()
    if i > 0 and kinds[i - 1] == TEXT and rule[0] in "=-" and len(set(rule)) == 1:
        return abs(len(rule) - len(lines[i - 1].strip())) <= 2  # setext heading
    after = _next_content(kinds, i + 1)
    if after is None or kinds[after] != TEXT or len(rule) > 5 or "_" in rule:
        return False
    text_after = 0
    for kind in kinds[after:]:
        if kind in (QUOTE, ATTRIBUTION, HEADER, SIG_DASHES, DELIMITER):
            break
        text_after += kind == TEXT
    return text_after > 6


def _history_start(lines: list[str], kinds: list[str]) -> int:
    """The first line from which everything is history or signature, once new text was seen."""
    seen_text = False
    i = 0
    while i < len(kinds):
        kind = kinds[i]
        if kind == TEXT:
            seen_text = True
        elif seen_text and kind == HEADER:
            above = i - 1
            if above >= 0 and kinds[above] == TEXT and _loose_attribution(lines[above]):
                return above
            return i
        elif seen_text and (
            kind == SIG_DASHES
            or (kind == SIGNATURE and _ends_the_reply(lines, kinds, i))
            or (kind == DELIMITER and not _section_break(lines, kinds, i))
        ):
            return i
        elif seen_text and kind == ATTRIBUTION:
            end = i
            while end + 1 < len(kinds) and kinds[end + 1] == ATTRIBUTION:
                end += 1
            after = _next_content(kinds, end + 1)
            if after is None or kinds[after] not in (QUOTE,):
                return i
            i = end
        i += 1
    return len(kinds)


def _strip_sign_off(lines: list[str], kinds: list[str], end: int) -> int:
    """Drop trailing history and signature lines from lines[:end]; return the new end."""
    trailing = (EMPTY, QUOTE, ATTRIBUTION, SIGNATURE, DELIMITER, HEADER, SIG_DASHES)

    def back(end: int) -> int:
        while end > 0 and kinds[end - 1] in trailing:
            end -= 1
        return end

    end = back(end)
    # "-Anna" closing the message, but not the last item of a "-item" list
    if end > 1 and _SIGN_OFF.match(lines[end - 1]) and TEXT in kinds[: end - 1]:
        above = lines[end - 2].lstrip()
        if not above.startswith(("-", "*", "•")):
            end = back(end - 1)
    return end


def _leading_history(lines: list[str], kinds: list[str], end: int) -> int:
    """Where the reply starts when an attribution and its quote open the message and the
    whole answer follows them (bottom posting); 0 otherwise."""
    first = _next_content(kinds[:end], 0)
    if first is not None and kinds[first] == SIGNATURE:
        after = _next_content(kinds[:end], first + 1)
        return after if after is not None and kinds[after] == TEXT else 0
    if first is None or kinds[first] != ATTRIBUTION or _FORWARD_RE.match(lines[first]):
        return 0  # a forward with no comment above it is itself the message
    k = first
    while k < end and kinds[k] in (ATTRIBUTION, HEADER, QUOTE, EMPTY, DELIMITER):
        k += 1
    if k >= end or QUOTE in kinds[k:end]:
        return 0  # nothing after it, or answers interleaved with the quote: keep the context
    return k


def _banner_end(lines: list[str], kinds: list[str]) -> int:
    """Where the text starts after an external-sender warning opening the message (0 if none)."""
    first = _next_content(kinds, 0)
    if first is None or kinds[first] != TEXT:
        return 0
    end = first
    while end < len(kinds) and kinds[end] != EMPTY and end - first < 6:
        end += 1
    if not _EXTERNAL_BANNER.match(" ".join(line.strip() for line in lines[first:end])):
        return 0
    after = _next_content(kinds, end)
    return after if after is not None and kinds[after] == TEXT else 0


def split_text(text: str) -> Split:
    """Split a plain-text body into the new text and the rest (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = _classify(lines)
    end = _strip_sign_off(lines, kinds, _history_start(lines, kinds))
    start = _leading_history(lines, kinds, end) or _banner_end(lines, kinds[:end])
    if TEXT not in kinds[start:end]:
        start, end = 0, len(lines)  # no new text: the whole body is what the person sent
    reply = "\n".join(lines[start:end]).strip("\n").rstrip()
    removed = lines[:start] + lines[end:]
    quoted = "\n".join(removed).strip("\n").rstrip()
    return Split(reply=reply, quoted=quoted)
