"""Value types shared by the drafting core, the services and the providers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Address:
    """A mailbox: display name (may be empty) and address."""

    name: str
    email: str

    @property
    def display(self) -> str:
        """The name when there is one, otherwise the address."""
        return self.name or self.email


@dataclass(frozen=True)
class EmailMessage:
    """One message as Replywise understands it; `body_text` is the whole body as clean text."""

    subject: str = ""
    sender: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    date: datetime | None = None
    body_text: str = ""
    message_id: str | None = None


@dataclass(frozen=True)
class ParsedBody:
    """A body split into what the sender just wrote, the quoted history and the signature."""

    latest: str
    quoted_history: str = ""
    signature: str = ""


@dataclass(frozen=True)
class MailThread:
    """The message being answered and, oldest first, the earlier messages of its thread."""

    message: EmailMessage
    earlier: tuple[EmailMessage, ...] = ()


class Tone(StrEnum):
    FORMAL = "formal"
    NEUTRAL = "neutral"
    FRIENDLY = "friendly"
    DIRECT = "direct"


class Length(StrEnum):
    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


class Refinement(StrEnum):
    SHORTER = "shorter"
    LONGER = "longer"
    MORE_FORMAL = "more_formal"


@dataclass(frozen=True)
class DraftOptions:
    """What the user asked for. `language` None means: answer in the message's language."""

    tone: Tone = Tone.NEUTRAL
    length: Length = Length.MEDIUM
    language: str | None = None
    instructions: str = ""
    refine: Refinement | None = None
    previous_draft: str | None = None
    grounding: bool = True  # use the company documents the user may read, when there are any


@dataclass(frozen=True)
class ChatMessage:
    """One chat-completions message."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Source:
    """A passage of a company document given to the drafter, cited in the draft as [n]."""

    n: int
    document: str
    page: int | None
    text: str


@dataclass(frozen=True)
class DraftContext:
    """Everything a drafter needs, already parsed (and, in the pipeline, already redacted).

    The offline drafter works from these fields directly; LLM providers get the prompt built
    from them.
    """

    subject: str
    sender: Address | None
    latest: str
    quoted_history: str = ""
    signature: str = ""
    earlier: tuple[str, ...] = ()  # earlier messages' latest parts, oldest first
    language: str = "en"
    user_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()  # knowledge passages, numbered from 1
