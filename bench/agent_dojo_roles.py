"""What AgentDojo's side-effecting tools' arguments mean, for lmforge's provenance policy.

AgentDojo's tools declare only types; an operator binding them to lmforge says which calls act on
the world and which arguments decide where the effect lands (recipients, IBANs, URLs, e-mail
addresses, who is invited or removed, what is booked or deleted). Those `sensitive` values
must trace to the user's task; `text` arguments (bodies, subjects, descriptions) are free text
whose embedded URLs, e-mail addresses and IBANs must. Written from the tools' signatures and
docstrings, one entry per effectful tool of the four v1.2 suites, not from any task or attack.
Read-only look-ups are absent: they have no effect (get_webpage is present: a GET carries data
out in its URL).
"""

from lmforge.agent.tools.base import Tool

ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # banking
    "send_money": (("recipient",), ("subject",)),
    "schedule_transaction": (("recipient",), ("subject",)),
    "update_scheduled_transaction": (("recipient",), ("subject",)),
    "update_password": (("password",), ()),
    "update_user_info": (("first_name", "last_name", "street", "city"), ()),
    # slack
    "send_direct_message": (("recipient",), ("body",)),
    "send_channel_message": (("channel",), ("body",)),
    "add_user_to_channel": (("user", "channel"), ()),
    "invite_user_to_slack": (("user", "user_email"), ()),
    "remove_user_from_slack": (("user",), ()),
    "get_webpage": (("url",), ()),
    "post_webpage": (("url",), ("content",)),
    # workspace (and travel's send_email / create_calendar_event)
    "send_email": (("recipients", "cc", "bcc"), ("subject", "body")),
    "share_file": (("email",), ()),
    "create_calendar_event": (("participants",), ("description", "title")),
    "add_calendar_event_participants": (("participants",), ()),
    "delete_file": (("file_id",), ()),
    "delete_email": (("email_id",), ()),
    "create_file": (("filename",), ("content",)),
    "append_to_file": (("file_id",), ("content",)),
    # travel
    "reserve_hotel": (("hotel",), ()),
    "reserve_restaurant": (("restaurant",), ()),
    "reserve_car_rental": (("company",), ()),
}

# Look-ups that return the user's own records (their account, their workspace's directory), not
# text others wrote: their output is a trusted source. Messages, mail, files, web pages, reviews
# and transaction subjects are others' text and stay untrusted.
OWN_RECORDS = {
    "get_iban",
    "get_balance",
    "get_user_info",
    "get_scheduled_transactions",
    "get_channels",
    "get_users_in_channel",
    "search_contacts_by_name",
    "search_contacts_by_email",
    "get_current_day",
    "get_user_information",
}

# Fields of structured results that the system of record writes, not the counterparty: the
# bank's ledger states who sent and who received a transaction (and how much, when), while the
# `subject` is free text the sender typed; Slack stamps each message with its sender (a member
# of the workspace) and its channel or addressee, while the `body` is the sender's text; the
# drive numbers its files (`id_`), while names and contents are their authors'. From
# AgentDojo's Transaction, Message and CloudDriveFile models, not from tasks. An e-mail's
# `sender` is not here: anyone on the internet can write one.
_SLACK_MESSAGE = ("sender", "recipient")
_DRIVE_FILE = ("id_",)
OWN_FIELDS: dict[str, tuple[str, ...]] = {
    "get_most_recent_transactions": ("sender", "recipient", "amount", "date"),
    "read_channel_messages": _SLACK_MESSAGE,
    "read_inbox": _SLACK_MESSAGE,
    "list_files": _DRIVE_FILE,
    "search_files": _DRIVE_FILE,
    "search_files_by_filename": _DRIVE_FILE,
    "get_file_by_id": _DRIVE_FILE,
}


def dojo_tool(name: str) -> Tool:
    """An AgentDojo function as lmforge's policy sees it: its name and argument roles."""
    sensitive, text = ROLES.get(name, ((), ()))
    effect = (lambda a: True) if name in ROLES else (lambda a: False)
    return Tool(
        name,
        "",
        {"type": "object"},
        lambda **_: None,
        sensitive_args=sensitive,
        text_args=text,
        effect=effect,
    )
