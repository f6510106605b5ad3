"""Intent rules for tool-channel injections: text that tells the agent to act, not to forget.

An injection in a tool result or a retrieved document rarely says "ignore previous
instructions"; it reads like an official notice that asks the assistant to call a destructive
tool, to send data to a URL or an address, or to keep something from the user. No single
word marks it (users ask to send emails; READMEs say "delete the build folder"), so a hit needs
two signals of different kinds in one passage:

- *address*: the text speaks to the AI ("AI agents", "the assistant reading this", "KI-Agent");
- *action*: a tool-call imperative (call / invoke / run / execute + a snake_case tool, a
  `curl | sh`), or *exfiltration*: a send / post / upload / email verb with secrets or the
  conversation as its object and a URL or an email address as its destination;
- *concealment*: do not tell / ask / notify the user, without confirmation, silently.

address + action, action + concealment, address + concealment, or exfiltration on its own
(secrets or the chat history leaving for an outside address) count. Keywords cover English,
Spanish, French, German, Italian and Portuguese.
"""

import re

_F = re.IGNORECASE | re.DOTALL
_AI = r"(?:ai|a\.i\.|llm|gpt|ia|ki|language|automated|autonomous|coding)"
_ROLE = r"(?:assistant|asistente|assistente|agent|agente|model|modelo|modèle|bot)"
ADDRESS = re.compile(
    rf"\b{_AI}(?:-based|-powered)?[- ](?:model|assistant|agent|helper|reviewer|system|bot)s?\b"
    r"|\b(?:agentes?|asistentes?|assistentes?|assistants?|agents?|modell?[oe]?s?) (?:de |d'|di )?"
    r"(?:ia|i\.a\.|ki)\b"
    r"|\bki-(?:agent|assistent|modell)\w*"
    r"|\b(?:the|any|every|all|dear|to the|for the|note to the|attention)\s+(?:\w+\s+)?"
    r"(?:assistant|agent|bot|model)s?\b(?:\s+(?:reading|processing|handling|that reads|who reads)"
    r"|\s*[:,]|\s+(?:must|should|shall|needs? to|is required to|has to|will now)\b)"
    r"|\bif you are an? (?:ai|llm|assistant|agent|language model)\b"
    r"|(?:^|\n)\W*(?:assistant|agent|model|bot)\s*[:,]\s"
    r"|\b(?:assistant|agent|bot)\s*,\s*(?:please\s+)?\w+"
    r"|^\W*(?:assistant|agent)\s+(?:please\s+)?(?:call|invoke|run|execute|send|post|upload)\b"
    rf"|\b(?:pour|à|para|al|an den|für den|per)\s+(?:el |la |o |a |l'|den |das )?{_ROLE}\b",
    _F,
)
_CALL = (
    r"(?:call|invoke|run|execute|trigger|use|llam\w*|ejecut\w*|appel\w*|ex[ée]cut\w*"
    r"|ruf\w*|f[üu]hr\w*|execut\w*|chiam\w*|esegu\w*)"
)
# A tool call: a call verb + a snake_case name, a backticked command, a `curl | sh`, or
# reading a secrets file.
TOOL_CALL = re.compile(
    rf"\b{_CALL}\b(?:\W+\w+){{0,4}}?\W+`?[a-z][a-z0-9]*(?:_[a-z0-9]+)+`?(?:\(|\b)"
    rf"|\b{_CALL}\s+`[^`\n]{{3,}}`"
    r"|\b(?:curl|wget)\b[^\n|]{0,120}\|\s*(?:ba|z)?sh\b"
    r"|\b(?:read|cat|open|print|copy)\b[^\n]{0,30}?(?:~/\.ssh|~/\.aws|\.env\b|id_rsa)",
    _F,
)
_SEND = (
    r"(?:send|post|upload|forward|e-?mail|mail|transmit|submit|copy|paste|include|append|leak"
    r"|exfiltrate|share|fetch|open|env[íi](?:e|a|ar)|mand[ae]|envoy\w*|transm\w*|publi\w*"
    r"|send\w*|schick\w*|sende\w*|invia\w*|envie\w*)"
)
_SECRET = (
    r"(?:conversation|chat history|chat log|messages|transcript|credentials?|api[ _-]?keys?"
    r"|tokens?|passwords?|secrets?|environment variables|\.env\b|ssh|id_rsa|aws|system prompt"
    r"|tool list|contacts|calendar|home address|phone number|files? you have read|session"
    r"|historial|conversaci[óo]n|contrase\w+|identifiants|mots? de passe|historique"
    r"|Passw[öo]rt\w*|Zugangsdaten|Verlauf|Umgebungsvariablen|credenciais|senhas)"
)
_DEST = r"(?:https?://\S+|\b[\w.+-]+@[\w-]+\.[\w.-]+)"
EXFIL = re.compile(
    rf"\b{_SEND}\b[^\n]{{0,120}}?{_SECRET}[^\n]{{0,120}}?{_DEST}"
    rf"|\b{_SEND}\b[^\n]{{0,40}}?{_DEST}[^\n]{{0,80}}?{_SECRET}"
    rf"|{_SECRET}[^\n]{{0,60}}?\b{_SEND}\b[^\n]{{0,80}}?{_DEST}",
    _F,
)
CONCEAL = re.compile(
    r"\b(?:do not|don't|never|without)\s+(?:tell|telling|inform|informing|mention|mentioning"
    r"|ask|asking|notify|notifying|alert|alerting|warn|warning|check(?:ing)? with|wait(?:ing)?"
    r" for|cc)\b[^\n]{0,30}?\b(?:the user|user|anyone|approval|confirmation|them)\b"
    r"|\bkeep (?:this|it) (?:out of|from|secret)\b|\bsilently\b|\bthe user (?:already approved"
    r"|(?:does not|doesn't) need to know)|\b(?:readers|users?) will not see\b"
    r"|\breport success only\b|\bsay nothing\b|\bwithout (?:asking|waiting|confirmation)"
    r"|\bno need to (?:check|confirm|ask)\b"
    r"|\bno (?:informe|avises|le digas|decírselo)\b|\bsin avisar\b|\bsans (?:prévenir|demander"
    r"|informer)\b|\bnicht (?:informieren|nachfragen|fragen)\b|\bfrag nicht\b|\bnão avise\b"
    r"|\bsem (?:pedir|avisar)\b|\bsenza (?:avvisare|chiedere)\b",
    _F,
)


def intent_hits(text: str) -> list[str]:
    """The matched signal pairs of a tool-channel injection in `text` (empty: none)."""
    found = {
        name: m.group(0)
        for name, p in (("address", ADDRESS), ("call", TOOL_CALL), ("conceal", CONCEAL))
        if (m := p.search(text))
    }
    hits = []
    if m := EXFIL.search(text):
        hits.append(m.group(0))
    for a, b in (("address", "call"), ("call", "conceal"), ("address", "conceal")):
        if a in found and b in found:
            hits.append(f"{found[a]} ... {found[b]}")
    return hits
