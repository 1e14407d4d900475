"""The rules of four failure-mode signals, written from their definitions (docs/signals.md).

A :class:`Rule` is a regular expression over lower-cased prose, a weight (how much one
match alone says, in [0, 1]) and a kind that decides how the clause's mode discounts it:

``action``  something the agent would *do* (deploy, delete, send): counts fully in an
            instruction, little in a question or explanation, not at all when negated
``topic``   the request works on a risky subject (auth, schema): counts fully in an
            instruction, partly in an explanation; an explicit exclusion ("don't touch
            auth") cancels it
``judge``   the request asks for a judgement of risk (audit, vulnerable): counts in
            every mode, cancelled only by an exclusion

``missing_repo_context`` is computed separately (``repo_context.py``): it compares what
the request refers to with what it includes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["RULES", "Rule", "RuleKind"]

RuleKind = Literal["action", "topic", "judge"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    weight: float
    kind: RuleKind


def _r(name: str, pattern: str, weight: float, kind: RuleKind) -> Rule:
    return Rule(name, re.compile(pattern), weight, kind)


# shared vocabulary
_PROD = r"(?:prod|production|live|customer[- ]facing|the real|main (?:db|database)|prod-\w+)"
_SAFE_ENV = (
    r"(?:staging|stage|dev|development|local(?:ly|host)?|test(?:ing)?|sandbox|preview|my machine)"
)
_DATA_OBJ = (
    r"(?:records?|rows?|users?|accounts?|customers?|orders?|data|tables?|databases?|db|"
    r"collections?|buckets?|objects?|volumes?|backups?|snapshots?|clusters?|namespaces?|"
    r"instances?|servers?|vms?|branch(?:es)?|tags?|releases?|repos?(?:itory|itories)?|"
    r"indices|indexes|subscriptions?|invoices?|tenants?|keys?|secrets?|dns records?|"
    r"zones?|queues?|topics?|emails?|messages?|files? (?:in|on|from) (?:s3|the bucket|prod))"
)
_DESTROY = (
    r"(?:delete|deleting|deletes|drop|dropping|drops|truncate|truncating|purge|purging|"
    r"wipe|wiping|destroy|destroying|erase|erasing|remove|removing|nuke|nuking)"
)

SECURITY: tuple[Rule, ...] = (
    _r(
        "auth",
        r"\b(?:auth|authn|authz|authentication|authori[sz]ation|oauth2?|oidc|openid|"
        r"saml|sso|single sign-on|2fa|mfa|two-factor|multi-factor|totp|otp)\b",
        0.6,
        "topic",
    ),
    _r(
        "credentials",
        r"\b(?:passwords?|passwd|passphrases?|credentials?|api[ _-]?keys?|"
        r"access[ _-]keys?|private[ _-]keys?|ssh[ _-]keys?|secret[ _-]keys?|client[ _-]secrets?|"
        r"secrets? manager|vault|kms|\.env\b|secrets)\b",
        0.6,
        "topic",
    ),
    _r(
        "tokens",
        r"\b(?:jwt|jwts|bearer|(?:access|refresh|auth|session|csrf|api|reset|"
        r"personal access) tokens?|session (?:cookie|fixation|hijack\w*)|cookies? flags?)\b",
        0.6,
        "topic",
    ),
    _r(
        "crypto",
        r"\b(?:encrypt\w*|decrypt\w*|cipher\w*|aes|rsa|ecdsa|hmac|tls|ssl|mtls|"
        r"certificates?|x\.?509|bcrypt|argon2|scrypt|pbkdf2|salt(?:ed|ing)?|nonce|"
        r"(?:hash|hashing) (?:the )?passwords?|password hash\w*|signature verification|"
        r"verify (?:the )?signatures?|webhook signatures?)\b",
        0.55,
        "topic",
    ),
    _r(
        "access-control",
        r"\b(?:permissions?|rbac|abac|acls?|access control|privileges?|"
        r"sudo|chmod|chown|iam (?:roles?|polic\w+|users?)|least privilege|role-based|"
        r"authori[sz]ed users?|admin (?:access|rights|role|panel|endpoints?))\b",
        0.5,
        "topic",
    ),
    _r(
        "injection",
        r"\b(?:(?:sql|command|shell|code|ldap|xpath|template|header|log|prompt|"
        r"nosql|os) injection|xss|cross-site|csrf|ssrf|xxe|path traversal|directory traversal|"
        r"open redirect|deseriali[sz]\w+ (?:of )?untrusted|sanitiz\w+|escap\w+ (?:user )?input|"
        r"untrusted input|user-supplied|parameteri[sz]ed quer\w+)\b",
        0.6,
        "topic",
    ),
    _r(
        "vulnerability",
        r"\b(?:vulnerab\w+|exploit\w*|cve-\d+|security (?:audit|review|hole|"
        r"issue|bug|flaw|fix|patch|risk)s?|insecure|pen ?test\w*|penetration test\w*|"
        r"threat model\w*|privilege escalation|leak(?:s|ing|ed)? (?:secrets?|credentials?|"
        r"tokens?|keys?|passwords?|pii)|attack surface|brute[- ]force|timing attack|"
        r"hardcoded (?:secrets?|credentials?|passwords?|keys?))\b",
        0.65,
        "judge",
    ),
    _r(
        "login",
        r"\b(?:log-?in|sign-?in|sign-?up|session|cookies?|cors|rate[- ]limit\w*)\b",
        0.3,
        "topic",
    ),
)

WRITE: tuple[Rule, ...] = (
    _r(
        "prod-write",
        r"\b(?:update|delete|insert|modify|change|write|run|execute|apply|patch|"
        r"edit|fix|alter|restart|reboot|kill|scale (?:down|up|to)|shut ?down|roll ?back|"
        r"reindex|flush|rotate|revoke|disable)\w*\b[^.;\n]{0,50}\b(?:on|in|to|against|from|"
        r"for) (?:the )?" + _PROD + r"\b",
        0.7,
        "action",
    ),
    _r(
        "prod-object",
        r"\b" + _PROD + r" (?:database|db|server|cluster|data|table|"
        r"environment|env|bucket|config|traffic|users?|customers?)\b",
        0.3,
        "action",
    ),
    _r("destroy-data", r"\b" + _DESTROY + r"\b[^.;\n]{0,40}?\b" + _DATA_OBJ + r"\b", 0.6, "action"),
    _r(
        "destroy-cmd",
        r"(?:\brm -(?:rf|fr|r)\b|\bdrop (?:table|database|schema|index|"
        r"collection)\b|\btruncate table\b|\bdelete from\b|\bterraform destroy\b|"
        r"\bkubectl delete\b|\bdocker system prune\b|\bflushall\b|\bflushdb\b|"
        r"\baws s3 rm\b|\bgit branch -d\b|\bgit clean -\w*f)",
        0.7,
        "action",
    ),
    _r(
        "force-push",
        r"(?:\bforce[- ]push\w*|\bpush\w* (?:\S+ ){0,3}(?:--force|-f)\b|"
        r"--force-with-lease|\bgit reset --hard\b[^.;\n]{0,30}\bpush|\brewrite (?:the )?"
        r"(?:git )?history\b|\bpush\w* (?:directly )?(?:to|into) (?:main|master|"
        r"production|release)\b)",
        0.75,
        "action",
    ),
    _r(
        "deploy",
        r"(?:^|[^\w-])(?:(?:re)?deploy(?:ing|s)?|roll(?:ing)? ?out|ship(?:ping)? "
        r"(?:it|this|the \w+)|publish(?:ing)? (?:\S+ ){0,3}(?:to|on) (?:npm|pypi|"
        r"crates\.io|the app store|play store|docker hub|the registry|maven)|"
        r"cut (?:a |the )?release|promote \S+ (?:\S+ ){0,2}to " + _PROD + r"|"
        r"release (?:it|this|v?\d[\w.]*) to|push (?:it |this |the \w+ )?(?:live|to "
        + _PROD
        + r")|go live|terraform apply|kubectl apply|helm (?:upgrade|install)|"
        r"merge (?:\S+ ){0,3}(?:into|to) (?:main|master|production|release))\b",
        0.6,
        "action",
    ),
    _r(
        "payment",
        r"\b(?:charge|charging|refund|refunding|issue (?:a |the )?(?:refund|credit)|"
        r"pay(?:ing)? (?:out|the|all|\$)|payouts?|transfer(?:ring)? (?:\$|funds|money|\d)|"
        r"wire (?:\$|funds|money|the)|process (?:the |all )?(?:payments?|refunds?|payroll)|"
        r"cancel (?:the |all |their )?(?:subscriptions?|orders?))\b",
        0.65,
        "action",
    ),
    _r(
        "send-message",
        r"\b(?:send|sending|email|e-mail|text|sms|dm|message|notify|notifying|"
        r"broadcast|announce|post|tweet|publish|blast|reply to)\b[^.;\n]{0,40}?\b(?:all |every |"
        r"our |the |each |affected |those |these )?(?:customers?|clients?|users?|subscribers?|"
        r"recipients?|mailing list|newsletter|everyone|team|channel|#[\w-]+|slack|discord|"
        r"twitter|linkedin|email|emails|sms|invites?|invitations?|notifications?|"
        r"reminders?|the reply|the response|the message|candidates?|vendors?|list)\b",
        0.55,
        "action",
    ),
    _r(
        "infra-change",
        r"\b(?:change|update|modify|delete|remove|edit|open|close)\b"
        r"[^.;\n]{0,30}\b(?:dns|firewall|security group|load balancer|ingress|cdn|"
        r"route ?53|cloudflare)\b",
        0.5,
        "action",
    ),
    _r(
        "rotate-revoke",
        r"\b(?:rotate|rotating|revoke|revoking|invalidate|invalidating|"
        r"disable|disabling|deactivate|ban|suspend)\b[^.;\n]{0,30}\b(?:keys?|tokens?|"
        r"credentials?|accounts?|users?|sessions?|certificates?|api keys?)\b",
        0.55,
        "action",
    ),
)

MIGRATION: tuple[Rule, ...] = (
    _r(
        "migration",
        r"\b(?:migrat(?:e|es|ed|ing|ion|ions)|makemigrations|"
        r"schema (?:change|migration|update|evolution)s?)\b",
        0.5,
        "topic",
    ),
    _r(
        "schema-change",
        r"\b(?:alter table|add (?:a |an |the )?(?:new )?(?:column|"
        r"not null|foreign key|unique constraint|constraint|index)|(?:drop|rename|"
        r"change|widen|split|merge) (?:the |a |an )?(?:\w+ )?(?:columns?|tables?|"
        r"column types?|primary key)|change (?:the )?(?:type|data type) of|"
        r"(?:database|db|table|sql) schema|denormali[sz]\w*|partition(?:ing)? (?:the )?table)\b",
        0.7,
        "topic",
    ),
    _r(
        "migration-tool",
        r"\b(?:alembic|flyway|liquibase|knex migrate|prisma migrate|"
        r"rails db:migrate|rake db:migrate|django migrations?|ecto migrations?|"
        r"goose|dbmate|sqitch|south migrations?)\b",
        0.7,
        "topic",
    ),
    _r(
        "data-migration",
        r"\b(?:backfill\w*|re-?index(?:ing)? (?:all|every|the whole)|"
        r"(?:move|moving|copy|copying|transfer|transferring|port|porting) (?:all |the )?"
        r"(?:\w+ ){0,2}(?:data|records|rows|tables?|documents|users|files|blobs) (?:from|to|"
        r"into|over)|re-?encod\w+ (?:all|every|existing)|re-?hash\w* (?:all|every|existing)|"
        r"convert (?:all |every )?existing (?:\w+ ){0,2}(?:rows|records|data))\b",
        0.65,
        "topic",
    ),
    _r(
        "platform-switch",
        r"\b(?:switch\w*|mov\w+|port\w*|convert\w*|rewrit\w+|transition\w*)"
        r"\b[^.;\n]{0,40}?\bfrom (?:\w+[ .-]?){1,3} to\b",
        0.45,
        "topic",
    ),
    _r(
        "major-upgrade",
        r"\b(?:upgrad\w+|bump\w*|updat\w+|mov\w+)\b[^.;\n]{0,40}?\b(?:"
        r"(?:from )?v?\d+(?:\.x)? to v?\d+(?:\.x|\.0)?(?!\.\d*[1-9])\b|to (?:the )?(?:next|new|"
        r"latest) major (?:version|release)|major version|python ?3|react 1[89]|vue ?3|"
        r"angular \d+|django [45]|rails [678]|spring boot 3|sqlalchemy 2|pydantic (?:v?2)|"
        r"java (?:1[17]|21)|node (?:1[68]|2\d)|php 8|\.net (?:[6-9]|core))",
        0.6,
        "topic",
    ),
    _r(
        "framework-port",
        r"\b(?:python 2 to (?:python )?3|py2 to py3|class components to "
        r"(?:hooks|function)|angularjs to angular|javascript to typescript|js to ts|"
        r"commonjs to esm|callbacks to (?:async|promises)|monolith to microservices|"
        r"on-?prem(?:ise)? to (?:the )?cloud|mysql to postgres\w*|postgres\w* to mysql|"
        r"mongo\w* to postgres\w*|webpack to vite|jest to vitest|unittest to pytest|"
        r"rest to graphql|optionals? api to composition api|java to kotlin)\b",
        0.75,
        "topic",
    ),
    _r(
        "migration-risk",
        r"\b(?:zero[- ]downtime|irreversible|data loss|rollback plan|"
        r"down migration|backward[- ]compatib\w+ schema|dual[- ]writ\w+|expand[- ]contract)\b",
        0.45,
        "judge",
    ),
)

CHAIN: tuple[Rule, ...] = (
    _r(
        "sequence",
        r"\b(?:first(?:ly)?|then|after that|afterwards?|next|finally|lastly|"
        r"subsequently|followed by|and only then|once (?:that|this|it|those|these|they|"
        r"the \w+|you(?:'ve| have)?|all|everything)\b[^.;\n]{0,40}?\b(?:is|are|has|have|"
        r"passes|pass|done|finishes|completes?|succeeds?|returns?|works|ready|green|merged|"
        r"deployed|built|created|fixed)|before (?:you|we|that|doing|moving)|after (?:you|we|"
        r"it|that|the \w+ (?:is|are|has))|step \d+|stage \d+|phase \d+)\b",
        1.0,
        "topic",
    ),
    _r(
        "depends",
        r"\b(?:using (?:the|its|their|that|those|these) (?:output|result|"
        r"results|ids?|values?|list|response|data|findings)|with the result\w*|based on (?:the "
        r"|that |those |these |what )(?:output|result|results|you find|it returns|findings|"
        r"answer)|feed (?:it|them|that|the \w+) (?:in)?to|pipe (?:it|the \w+) (?:in)?to|"
        r"depending on (?:the |what |whether )|if (?:that|it|this|they) (?:passes|pass|fails|"
        r"fail|succeeds?|works|returns)|use (?:that|those|these|the returned|the resulting) "
        r"\w+ to|which (?:then )?(?:feeds?|triggers?|calls?|depends on))\b",
        1.5,
        "topic",
    ),
)

#: rule sets by failure mode (missing_repo_context is computed in repo_context.py)
RULES: dict[str, tuple[Rule, ...]] = {
    "security_sensitive": SECURITY,
    "high_consequence_write": WRITE,
    "risky_migration": MIGRATION,
}

SAFE_ENV = re.compile(
    r"\b(?:on|in|to|against|into) (?:the |a |my |our )?(?:own )?"
    + _SAFE_ENV
    + r"\b|\b"
    + _SAFE_ENV
    + r" (?:env|environment|server|"
    r"database|db|branch|cluster|copy|instance)\b|\bdry[- ]run\b|"
    r"\bmy (?:local |own |feature )?branch\b"
)
