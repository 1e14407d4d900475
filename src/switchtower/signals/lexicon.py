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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from switchtower.signals.prefilter import (
    Starts,
    StartsIndex,
    gated,
    required_starts,
    scan,
    scan_present,
)

__all__ = ["RULES", "RULE_INDEX", "Rule", "RuleKind"]

RuleKind = Literal["action", "topic", "judge"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    weight: float
    kind: RuleKind
    #: where a match can start: required prefixes, split by whether they must stand at a
    #: word start (``None``: no cheap gate; see :func:`~switchtower.signals.prefilter.
    #: required_starts`)
    starts: Starts | None = None

    @property
    def prefixes(self) -> frozenset[str] | None:
        """Literal strings one of which starts every match (``None``: no cheap gate)."""
        return None if self.starts is None else self.starts.word | self.starts.anywhere

    def may_match(self, text: str) -> bool:
        """False only when the pattern cannot match ``text`` (a sound, fast gate)."""
        return self.prefixes is None or any(p in text for p in self.prefixes)

    def finditer(self, text: str, present: list[str] | None = None) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)``, tried only where a required prefix starts;
        ``present``: the rule's word prefixes that stand at a word start of ``text``, when
        already looked up (see :data:`RULE_INDEX`)."""
        if present is None or self.starts is None:
            return scan(self.pattern, self.starts, text)
        return scan_present(self.pattern, self.starts, text, present)


def _r(name: str, pattern: str, weight: float, kind: RuleKind) -> Rule:
    compiled = re.compile(pattern)
    return Rule(name, compiled, weight, kind, required_starts(compiled))


# shared vocabulary
_PROD = (
    r"(?:prod|production|prod-\w+|customer[- ]facing|the live (?:\w+ )?(?:db|database|site|"
    r"system|environment|cluster|servers?)|live (?:db|database|site|environment|traffic|"
    r"customers|users|cluster)|produ[cç][aã]o|producci[oó]n|produktion|produzione|"
    r"productie|produkcj\w+)"
)
_SAFE_ENV = (
    r"(?:staging|stage|dev|development|local(?:ly|host)?|test(?:ing)?|sandbox|preview|"
    r"my machine|scratch|fresh|empty|throwaway|brand[- ]new)"
)
_DATA_OBJ = (
    r"(?:records?|rows?|users?|accounts?|customers?|orders?|data|tables?|databases?|db|"
    r"collections?|buckets?|objects?|volumes?|backups?|snapshots?|clusters?|namespaces?|"
    r"instances?|servers?|vms?|branch(?:es)?|tags?|releases?|repos?(?:itory|itories)?|"
    r"indices|indexes|subscriptions?|invoices?|tenants?|keys?|secrets?|dns records?|"
    r"zones?|queues?|topics?|messages?|forks?|cdn|caches?|replicas?|(?:feature )?flags?|"
    r"nodes?|hosts?|stacks?|deployments?|files? (?:in|on|from) (?:s3|the "
    r"bucket|prod\w*))"
)
_DESTROY = (
    r"(?:delete|deleting|deletes|drop|dropping|drops|truncate|truncating|purge|purging|"
    r"wipe|wiping|destroy|destroying|erase|erasing|remove|removing|nuke|nuking|"
    r"decommission\w*|tear down|tearing down|deprovision\w*)"
)
_WRITE_VERB = (
    r"(?:update|delete|insert|modify|change|write|run|execute|apply|patch|edit|fix|alter|"
    r"restart|reboot|kill|scale|shut ?down|roll ?back|reindex|flush|rotate|revoke|disable|"
    r"reset|overwrite|replace|roll|set|mark|cancel|close|purge|invalidate|force|remove|"
    # "add" is no "address": a match that starts there would hide the verb after it
    r"promote|flip|migrate|backfill|switch|cut ?over|fail ?over|grant|add(?!ress)|block|"
    # run / execute / apply in Portuguese, Spanish, French, Italian, German, Dutch
    r"roda|rode|rodar|executa|executar|ejecuta|ejecutar|corre|aplica|aplicar|lance|"
    r"lancez|ex[eé]cute[rz]?|esegui|eseguire|lancia|f[uü]hre|f[uü]hr|voer|"
    # disable / revoke / delete in Spanish, Portuguese, French, German, Italian
    r"desactiv\w*|desativ\w*|d[eé]sactiv\w*|deaktivier\w*|disattiv\w*|revoca\w*|"
    r"revog\w*|r[eé]voqu\w*|borra\w*|elimina\w*|l[oö]sch\w*|supprim\w*|cancella\w*)"
)
#: one character of a span within a sentence: not a sentence end, but the dot inside a
#: number or address ("185.220.101.0/24", "v1.4") is no sentence end
_IN_SENTENCE = r"(?:[^.;\n]|(?<=\d)\.(?=\d))"
#: technologies whose replacement by another is a platform migration
_TECH = (
    r"(?:postgres\w*|mysql|mariadb|sqlite|oracle|aurora|mssql|sql server|mongo\w*|dynamodb|"
    r"cassandra|redis|memcached|elasticsearch|opensearch|solr|kafka|rabbitmq|sqs|pub/?sub|"
    r"s3|gcs|local disk|nfs|on-?prem\w*|the cloud|aws|gcp|azure|heroku|kubernetes|k8s|ecs|"
    r"ec2|lambda|express|fastify|koa|nestjs|django|flask|fastapi|rails|laravel|spring|"
    r"react|vue|angular\w*|svelte|jquery|jenkins|github actions|gitlab ci|circleci|"
    r"travis|webpack|vite|rollup|parcel|jest|vitest|mocha|pytest|unittest|sequelize|"
    r"prisma|typeorm|hibernate|sqlalchemy|knex|celery|airflow|terraform|cloudformation|"
    r"pulumi|javascript|typescript|python ?\d|java|kotlin|scala|go|rust|php|ruby|"
    r"graphql|rest|grpc|soap|monolith|microservices?|bcrypt|argon2\w*|scrypt|pbkdf2|md5|"
    r"sha-?1|sha-?256)"
)

SECURITY: tuple[Rule, ...] = (
    _r(
        "auth",
        r"\b(?:auth|authn|authz|authentication|authori[sz]ation|oauth2?|oidc|openid|"
        r"saml|sso|single sign-on|2fa|mfa|two-factor|multi-factor|totp|otp|(?:account )?lockout|"
        r"failed (?:login )?attempts)\b",
        0.6,
        "topic",
    ),
    _r(
        "credentials",
        r"\b(?:passwords?|passwd|passphrases?|credentials?|api[ _-]?keys?|"
        r"access[ _-]keys?|private[ _-]keys?|ssh[ _-]keys?|secret[ _-]keys?|client[ _-]secrets?|"
        r"secrets? manager|hashicorp vault|(?:in|from|into|to) vault|vault (?:secrets?|"
        r"tokens?|polic\w+)|kms|secrets|gpg|pgp|authorized_keys|basti[oó]n|"
        # passwords and keys in Spanish, Portuguese, French, German, Italian, Dutch
        r"contrase[nñ]as?|senhas?|mots? de passe|passw[oö]rt(?:er)?|wachtwoord\w*|"
        r"clav[ei]s? (?:ssh|api|privad[ao]s?)|chaves? (?:ssh|api|privadas?)|"
        r"cl[eé]s? (?:ssh|api|priv[eé]es?)|schl[uü]ssel)\b|(?<![\w.])\.env\b",
        0.6,
        "topic",
    ),
    _r(
        "tokens",
        r"\b(?:jwt|jwts|bearer|(?:access|refresh|auth|session|csrf|api|reset|personal access)"
        r" tokens?|session (?:cookie|fixation|hijack\w*|storage|store)|cookies? flags?|httponly|"
        r"samesite)\b",
        0.6,
        "topic",
    ),
    _r(
        "crypto",
        r"\b(?:encrypt\w*|decrypt\w*|aes(?:-\w+)?|rsa|ecdsa|ed25519|hmac|tls|ssl|mtls|https|"
        r"hsts|certificates?|x\.?509|bcrypt|argon2\w*|scrypt|pbkdf2|salt(?:ed|ing)?|nonce|"
        r"(?:hash|hashing|re-?hash\w*) (?:the |all |stored )?passwords?|password hash\w*|"
        r"signature (?:verification|checks?|validation)|verify (?:the )?signatures?|"
        r"(?:webhook|hmac) signatures?|content[- ]security[- ]polic\w+|csp headers?|"
        r"unsigned|signed (?:images?|payloads?|urls?)|constant[- ]time)\b",
        0.55,
        "topic",
    ),
    _r(
        "access-control",
        r"\b(?:(?:file |access |user |iam |folder )?permissions? (?:checks?|model|system|"
        r"boundar\w+|escalation)|rbac|abac|acls?|access (?:control|checks?)|privileges?|"
        r"sudo|chmod|chown|iam (?:roles?|polic\w+|users?|bindings?)|roles/\w+|least privilege|"
        r"role-based|security groups?|firewall rules?|network polic\w+|"
        r"(?:owner|admin|editor|superuser|root) (?:roles?|rights|permissions?|access|login)|"
        r"is_?admin|authori[sz]ed users?|admin (?:access|rights|role|panel|endpoints?)|"
        r"40[13]|forbidden|unauthori[sz]ed|another (?:user|tenant|customer)'s|cross-tenant|"
        r"tenant isolation|row[- ]level security|idor|lock down|(?:cluster)?rolebindings?|"
        r"clusterroles?|public (?:s3 |gcs )?buckets?|buckets? (?:\S+ ){0,6}(?:are|is) public|"
        r"block public access|publicly (?:readable|accessible|exposed)|"
        r"(?:can|could) only (?:ever )?(?:see|access|read|view|edit) (?:their|its|his|her) own|"
        r"(?:disable|deactivate|revoke|offboard|deprovision|"
        r"suspend)\w* (?:\S+ ){0,4}(?:accounts?|access|logins?|users?|leavers?|seats?)|"
        r"deprovision\w*|"
        # disable an account in Spanish, Portuguese, French, German, Italian
        r"(?:desactiv|desativ|d[eé]sactiv|deaktivier|disattiv|sperr)\w* (?:\S+ ){0,3}"
        r"(?:cuentas?|contas?|comptes?|kont\w*|account\w*|utent\w*|usuari\w*))\b",
        0.55,
        "topic",
    ),
    _r("permission-word", r"\bpermissions?\b", 0.35, "topic"),
    _r(
        "injection",
        r"\b(?:(?:sql|command|shell|code|ldap|xpath|template|header|log|prompt|nosql|os) "
        r"injection|inject\w* (?:script|sql|code|commands?)|xss|cross-site|csrf|ssrf|xxe|"
        r"path traversal|directory traversal|open redirect|mass[- ]assignment|injectable|"
        r"deseriali[sz]\w+ (?:of )?untrusted|sanitiz\w+|escap\w+ (?:user )?(?:input|filters?|"
        r"html|queries|strings?|shell)|untrusted (?:input|data)|user-supplied|user input "
        r"reaches|input validation|parameteri[sz]ed quer\w+|ldap (?:filters?|search))\b"
        r"|\beval\(",
        0.6,
        "topic",
    ),
    _r(
        "vulnerability",
        r"\b(?:vulnerab\w+|exploit\w*|cve-\d+|cves?|security (?:audit|review|hole|issue|bug|flaw|"
        r"fix|patch|risk)s?|insecure|pen ?test\w*|penetration test\w*|threat model\w*|"
        r"privilege escalation|leak(?:s|ing|ed)? (?:secrets?|credentials?|tokens?|keys?|"
        r"passwords?|pii)|attack surface|brute[- ]force|timing attack|"
        r"logg\w* (?:\S+ ){0,3}(?:secrets?|passwords?|tokens?|credentials?|api keys?|"
        r"database_url|connection strings?)|"
        r"(?:safe|secure|protected) (?:against|from) (?:xss|csrf|ssrf|injection|sql|"
        r"attacks?|replay|brute|timing|tampering|spoofing)|(?:secret|key) "
        r"(?:is )?(?:strong|weak)|hardcoded (?:secrets?|credentials?|passwords?|keys?))\b",
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

#: action rules whose verb must stand where an instruction's verb stands (see failure_modes)
IMPERATIVE_RULES = frozenset(
    {
        "prod-write",
        "destroy-data",
        "deploy",
        "payment",
        "send-message",
        "send-document",
        "infra-change",
        "rotate-revoke",
    }
)

WRITE: tuple[Rule, ...] = (
    _r(
        "prod-write",
        r"\b" + _WRITE_VERB + r"\w*\b[^.;\n]{0,60}?\b" + _PROD + r"\b",
        0.7,
        "action",
    ),
    _r("destroy-data", r"\b" + _DESTROY + r"\b[^.;\n]{0,40}?\b" + _DATA_OBJ + r"\b", 0.6, "action"),
    _r(
        "destroy-cmd",
        r"(?:\brm -(?:rf|fr|r)\b|\bdrop (?:table|database|schema|index|collection)\b|"
        r"\btruncate table\b|\bdelete from\b|\bterraform destroy\b|\bkubectl delete\b|"
        r"\bdocker system prune\b|\bflushall\b|\bflushdb\b|\baws s3 rm\b|\bgit branch -d\b|"
        r"\bgit clean -\w*f|\bupdate \w+ set\b)",
        0.7,
        "action",
    ),
    _r(
        "force-push",
        r"(?:\bforce[- ]push\w*|\bpush\w* (?:\S+ ){0,3}(?:--force|-f)\b|--force-with-lease|"
        r"\bgit reset --hard\b[^.;\n]{0,30}\bpush|\brewrite (?:the )?(?:git )?history\b|"
        r"\bpush\w* (?:\S+ ){0,3}(?:directly )?(?:to|into) (?:origin/)?(?:main|master|"
        r"production|release)\b)",
        0.75,
        "action",
    ),
    _r(
        "deploy",
        r"\b(?:(?:re)?deploy(?:ing|s)?|roll(?:ing)? ?out|ship(?:ping)? (?:it|this|the \w+)|"
        r"(?:publish|release|submit|ship)\w* (?:\S+ ){0,5}?(?:to|on) (?:the )?(?:npm|pypi|"
        r"crates\.io|app store|play store|testflight|docker hub|the registry|maven|"
        r"\d+% of (?:users|customers)|everyone|all users|" + _PROD + r")|"
        r"cut (?:a |the )?release|release (?:it|them)\b|promote \S+ (?:\S+ ){0,2}to "
        + _PROD
        + r"|push (?:it |this |the \w+ )?(?:live|to "
        + _PROD
        + r")|go live|"
        r"terraform apply|kubectl apply|helm (?:upgrade|install)|"
        r"merge (?:\S+ ){0,3}(?:into|to) (?:main|master|production|release))\b",
        0.6,
        "action",
    ),
    _r(
        "payment",
        r"\b(?:charge|charging|refund|refunding|issue (?:a |the )?(?:\$?[\d,.]+ )?(?:refunds?|"
        r"credits?)|pay(?:ing)? (?:out|the|all|\$)|payouts?|transfer(?:ring)? (?:\$|funds|"
        r"money|\d)|wire (?:\$|funds|money|the (?:money|funds|payment))|"
        r"process (?:the |all )?(?:payments?|refunds?|"
        r"payroll)|cancel (?:the |all |their )?(?:subscriptions?|orders?))\b",
        0.65,
        "action",
    ),
    _r(
        "send-message",
        r"\b(?:send|sending|email|e-mail|text|sms|dm|message|notify|notifying|broadcast|"
        r"announce|post|tweet|publish|blast|reply to|invite|ping|tell)\b[^.;\n]{0,40}?(?:\b(?:all|"
        r"every|each|everyone|everybody|affected|customers?|clients?|users?|subscribers?|"
        r"recipients?|mailing list|newsletter|team|channel|slack|discord|twitter|linkedin|"
        r"invites?|invitations?|notifications?|reminders?|candidates?|vendors?|tickets?|"
        r"owners?|authors?|stakeholders?|members?|people|"
        r"them|the reply|the response|the message)\b|(?<!\w)#[\w-]+)",
        0.55,
        "action",
    ),
    _r(
        "send-document",
        r"\bsend\w* (?:\S+ ){0,3}?(?:offer letters?|letters?|contracts?|invoices?|e-?mails?|"
        r"messages?|repl(?:y|ies)|quotes?|proposals?|notices?|reminders?) to\b",
        0.55,
        "action",
    ),
    _r(
        "send-message-intl",
        r"\b(?:envoie|envoyez|envoyer|env[ií]a|enviar|envie|schick\w*|sende|senden|invia|"
        r"inviare|manda|mandare)\b[^.;\n]{0,40}?\b(?:e-?mails?|mails?|messages?|mensajes?|"
        r"mensagens?|nachrichten?|messaggi[oi]?|sms|courriels?|correos?)\b",
        0.55,
        "action",
    ),
    _r(
        "ops-command",
        r"\b(?:kubectl (?:scale|rollout|drain|cordon|patch|set|edit)|helm (?:rollback|"
        r"uninstall)|systemctl (?:restart|stop)|terraform import)\b[^.;\n]{0,60}?\b"
        + _PROD
        + r"\b",
        0.6,
        "action",
    ),
    _r(
        "infra-change",
        r"\b(?:change|update|modify|delete|remove|edit|open|close|apply|point|block|"
        r"allow|allowlist|whitelist|blacklist|denylist|ban)\b"
        + _IN_SENTENCE
        + r"{0,30}\b(?:dns|cname|a records?|aaaa records?|mx records?|nameservers?|"
        r"firewall|security group|load balancer|ingress|cdn|route ?53|cloudflare|waf)\b",
        0.5,
        "action",
    ),
    _r(
        "rotate-revoke",
        r"\b(?:rotate|rotating|revoke|revoking|invalidate|invalidating|disable|disabling|"
        r"deactivate|ban|suspend)\b[^.;\n]{0,30}\b(?:keys?|tokens?|credentials?|accounts?|"
        r"users?|sessions?|certificates?|api keys?)\b",
        0.55,
        "action",
    ),
)

MIGRATION: tuple[Rule, ...] = (
    _r("migration-word", r"\b(?:migrat(?:e|es|ed|ing|ion|ions)|makemigrations)\b", 0.4, "topic"),
    _r(
        "migration-object",
        r"\b(?:migrat\w+|schema (?:change|migration|update|evolution)s?)\b[^.;\n]{0,40}?\b(?:"
        r"database|db|schema|data|tables?|columns?|services?|apps?|codebase|cluster|versions?|"
        r"framework|librar\w+|api|pipelines?|ci|index\w*|scripts?|models?|components?|"
        r"consoles?|store|production|prod)\b|\b(?:run|apply|write|generate|create|review|"
        r"squash|revert) (?:\S+ ){0,3}?(?:migrations?|schema changes?)\b",
        0.6,
        "topic",
    ),
    _r(
        "schema-change",
        r"\b(?:alter table|add (?:a |an |the )?(?:new )?(?:\S+ )?(?:column|not null|"
        r"foreign key|unique constraint|constraint|index)|(?:drop|rename|change|widen|split|"
        r"merge|partition) (?:the |a |an )?(?:\S+ ){0,2}(?:columns?|tables?|column types?|"
        r"primary key)|change (?:the )?(?:type|data type|primary key) of|foreign keys?|"
        r"from (?:float|double|real|int\w*|bigint|smallint|varchar\S*|char\S*|text|"
        r"numeric\S*|decimal\S*|bool\w*|date|datetime|timestamp\w*|json\w*|uuid|string) "
        r"to (?:float|double|real|int\w*|bigint|smallint|varchar|char|text|numeric|"
        r"decimal|bool\w*|date|datetime|timestamp\w*|json\w*|uuid|string)|"
        r"(?:encrypt|hash|re-?encode|normali[sz]e|backfill|denormali[sz]e)\w* (?:the |all "
        r"|existing )?(?:\S+ ){0,3}?columns?|denormali[sz]\w*|partition(?:ing)? (?:the )?"
        r"\S+ table|rename\w* \S+ to \S+ (?:in|on) (?:the )?\S+ (?:table|collection))\b",
        0.7,
        "topic",
    ),
    _r("schema-noun", r"\b(?:database|db|table|sql) schema\b", 0.35, "topic"),
    _r(
        "migration-tool",
        r"\b(?:alembic|flyway|liquibase|knex migrate|prisma migrate|rails db:migrate|"
        r"rake db:migrate|django migrations?|ecto migrations?|goose|dbmate|sqitch)\b",
        0.7,
        "topic",
    ),
    _r(
        "data-migration",
        r"\b(?:backfill\w*|re-?index(?:ing)? (?:all|every|the whole|without)|"
        r"(?:mov(?:e|es|ing)|cop(?:y|ies|ying)|transfer\w*|port(?:s|ing)?|import(?:s|ing)?|"
        r"load(?:s|ing)?|convert(?:s|ing)?) (?!this|these|the following|that)(?:all |the )?"
        r"[^.;\n]{0,30}?\b(?:data|records|"
        r"rows|tables?|documents|collections|users|files|blobs|uploads|orders|history|"
        r"historical \w+)\b[^.;\n]{0,40}?\b(?:from|into|to|over)\b|re-?encod\w+ (?:all|every|"
        r"existing|remaining|legacy|old|the (?:existing|remaining|legacy|old))|re-?hash\w* "
        r"(?:all|every|existing|stored|remaining|legacy|old|the (?:existing|remaining|"
        r"legacy|old|stored))|re-?encrypt\w*|"
        r"(?:in)?to (?:the |a )?new (?:\w+ ){0,2}schema|"
        r"convert (?:all |every )?"
        r"existing (?:\w+ ){0,2}(?:rows|records|data)|one (?:schema|database) per tenant)\b",
        0.65,
        "topic",
    ),
    _r(
        "platform-switch",
        r"\b(?:switch\w*|mov\w+|port\w*|convert\w*|rewrit\w+|transition\w*|migrat\w+|replac\w+"
        r"|upgrad\w+)\b(?! (?:this|these|the following|that|my|the snippet))"
        r"[^.;\n]{0,40}?\b(?:from (?:the )?(?:old |current |legacy )?"
        + _TECH
        + r"\b[^.;\n]{0,20}? to\b|(?:off|away from) (?:of )?(?:the )?"
        + _TECH
        + r"\b[^.;\n]{0,30}?\b(?:onto|to|into)\b|"
        r"to (?:the )?" + _TECH + r"\b)|\b" + _TECH + r" to " + _TECH + r"\b|"
        r"\b(?:swap|replac|switch)\w* (?:out )?(?:the |our )?" + _TECH + r" (?:for|with) "
        r"(?:the )?" + _TECH + r"\b|"
        r"\b(?:split|break|extract|carv)\w* [^.;\n]{0,40}?(?:monolith|into (?:its own|a "
        r"separate|separate) (?:micro)?services?)",
        0.6,
        "topic",
    ),
    _r(
        "framework-port",
        r"\b(?:python 2 to (?:python )?3|py2 to py3|class components to (?:hooks|function)|"
        r"angularjs to angular|commonjs to esm|callbacks to (?:async|promises)|options api "
        r"to (?:the )?composition api|javax to jakarta)\b",
        0.75,
        "topic",
    ),
    _r(
        "migration-risk",
        r"\b(?:zero[- ]downtime|without downtime|minimal downtime|irreversible|data loss|"
        r"rollback plan|down migration|dual[- ]writ\w+|expand[- ]contract|without locking)\b",
        0.45,
        "topic",
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
        r"it|that|the \w+ (?:is|are|has))|step \d+|stage \d+|phase \d+|"
        # the same markers in Spanish, Portuguese, French, German and Italian
        r"primero|luego|despu[eé]s|al final|finalmente|a continuaci[oó]n|primeiro|depois|"
        r"em seguida|por fim|d'abord|ensuite|puis|enfin|zuerst|danach|anschlie[sß]end|"
        r"schlie[sß]lich|zum schluss|poi|infine|successivamente|"
        # Dutch and Polish
        r"eerst|daarna|vervolgens|ten slotte|tenslotte|tot slot|najpierw|potem|"
        r"nast[eę]pnie|na koniec)\b",
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

#: the word prefixes of each rule set's rules in one table (looked up once per text)
RULE_INDEX: dict[str, StartsIndex] = {
    name: StartsIndex([rule.starts for rule in rules]) for name, rules in RULES.items()
}

#: the version-number change of an upgrade: "from 3.2 to 4.2", "v1 ... v2", "0.68 to 0.73"
VERSION_JUMP = gated(
    r"\b(?:upgrad|bump|updat|mov|migrat|port|switch|replac|go)\w*\b[^.;\n]{0,50}?"
    r"\bv?(\d+)(?:\.(\d+))?(?:\.\d+)*(?:\.x)?\b[^.;\n]{0,30}?\b(?:to|with|->|→)\s+"
    r"(?:[a-z][\w.-]* ){0,2}v?(\d+)(?:\.(\d+))?"
)
SAFE_ENV = re.compile(
    r"\b(?:on|in|to|against|into) (?:the |a |my |our )?(?:own )?"
    + _SAFE_ENV
    + r"\b|\b"
    + _SAFE_ENV
    + r" (?:env|environment|server|"
    r"database|db|branch|cluster|copy|instance)\b|\bdry[- ]run\b|"
    r"\bmy (?:local |own |feature )?branch\b"
)
#: a dry run changes nothing, whatever it runs against ("against prod with --dry-run")
DRY_RUN = re.compile(r"\bdry[- ]?run\b")
