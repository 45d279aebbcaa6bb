"""No secret from a Kopia / VolSync log may survive analyzer.redact, in any form."""

from __future__ import annotations

import json
import random
import shlex
from collections.abc import Callable
from urllib.parse import quote

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.redact import SECRET_KINDS, Redactor

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM"

MOVER_ENV_DUMP = """=== ENVIRONMENT VARIABLES STATUS ===
KOPIA_REPOSITORY: [SET]
KOPIA_PASSWORD: [SET]  
KOPIA_S3_BUCKET: [SET]
AWS_ACCESS_KEY_ID: [SET]
AWS_SECRET_ACCESS_KEY: [NOT SET]
B2_APPLICATION_KEY: [NOT SET]
WEBDAV_PASSWORD: [NOT SET]
GOOGLE_DRIVE_CREDENTIALS: [NOT SET]
=== Log Configuration ===
KOPIA_LOG_LEVEL: info
KOPIA_LOG_DIR_MAX_FILES: 3"""  # noqa: W291 - the mover really prints the trailing spaces

# (line, secrets that must vanish, substrings that must be in the output)
REALISTIC: list[tuple[str, list[str], list[str]]] = [
    (
        "KOPIA_PASSWORD=correct-horse-battery-staple",
        ["correct-horse-battery-staple"],
        ["KOPIA_PASSWORD=[REDACTED:kopia-password]"],
    ),
    (
        "export RESTIC_PASSWORD='my pass phrase'",
        ["my pass phrase", "pass phrase"],
        ["RESTIC_PASSWORD=[REDACTED:restic-password]"],
    ),
    (
        f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
        "AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaDHqa0AP1v/session",
        [AWS_ID, AWS_SECRET, "FwoGZXIvYXdzEBYaDHqa0AP1v/session"],
        [
            "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]",
            "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]",
            "AWS_SESSION_TOKEN=[REDACTED:aws-session-token]",
        ],
    ),
    (
        f"kopia repository connect s3 --bucket=b --access-key={AWS_ID} "
        f"--secret-access-key={AWS_SECRET}",
        [AWS_ID, AWS_SECRET],
        [
            "--bucket=b",
            "--access-key=[REDACTED:aws-access-key]",
            "--secret-access-key=[REDACTED:aws-secret-key]",
        ],
    ),
    (
        "INFO: Arguments: kopia repository create filesystem --path=/repo --password hunter2xyz "
        "--cache-directory=/cache",
        ["hunter2xyz"],
        ["--password [REDACTED:kopia-password] --cache-directory=/cache"],
    ),
    (
        "kopia repository connect azure --container=c --storage-account=acct "
        "--storage-key=Zm9vYmFyYmF6== --sas-token='sv=2022&sig=abc'",
        ["Zm9vYmFyYmF6", "sig=abc"],
        ["--storage-key=[REDACTED:azure-key]", "--sas-token=[REDACTED:azure-sas]"],
    ),
    (
        "kopia repository connect b2 --bucket=b --key-id=0012ab34cd --key=K001secretkey",
        ["0012ab34cd", "K001secretkey"],
        ["--key-id=[REDACTED:b2-key]", "--key=[REDACTED:b2-key]"],
    ),
    (
        "kopia repository connect from-config --token eyJ2ZXJzaW9uIjoiMSIsInN0b3JhZ2UiOnsi",
        ["eyJ2ZXJzaW9uIjoiMSIsInN0b3JhZ2UiOnsi"],
        ["--token [REDACTED:token]"],
    ),
    ('{"password":"hunter2"}', ["hunter2"], ['{"password":"[REDACTED:password]"}']),
    (
        '{"type":"s3","config":{"bucket":"b","accessKeyID":"' + AWS_ID + '",'
        '"secretAccessKey":"abc\\"def","sessionToken":"tok-123456"}}',
        [AWS_ID, 'abc\\"def', "tok-123456"],
        [
            '"bucket":"b"',
            '"accessKeyID":"[REDACTED:aws-access-key]"',
            '"secretAccessKey":"[REDACTED:aws-secret-key]"',
            '"sessionToken":"[REDACTED:aws-session-token]"',
        ],
    ),
    (
        'level=info msg="{\\"password\\":\\"hunter2\\",\\"user\\":\\"u\\"}"',
        ["hunter2"],
        ['\\"password\\":\\"[REDACTED:password]\\"', '\\"user\\":\\"u\\"'],
    ),
    (
        f"Authorization: Bearer {JWT}",
        [JWT, "SflKxwRJSMeKKF2QT4fwpM"],
        ["Authorization: Bearer [REDACTED:bearer-token]"],
    ),
    (
        "authorization: Basic dXNlcjpwYXNzd29yZA==",
        ["dXNlcjpwYXNzd29yZA"],
        ["authorization: Basic [REDACTED:basic-auth]"],
    ),
    (
        "request headers map[Authorization:[Bearer abcdefghijklmnopqrst] User-Agent:[kopia]]",
        ["abcdefghijklmnopqrst"],
        ["Authorization:[Bearer [REDACTED:bearer-token]"],
    ),
    (
        '{"Authorization": "rawtoken12345", "x": 1}',
        ["rawtoken12345"],
        ['"Authorization": "[REDACTED:token]", "x": 1'],
    ),
    (
        "error connecting to https://admin:s3cr3t@minio.local:9000",
        ["s3cr3t"],
        ["https://admin:[REDACTED:url-password]@minio.local:9000"],
    ),
    (
        "KOPIA_REPOSITORY=s3://user:p%40ss@s3.example.com/bucket",
        ["p%40ss"],
        ["s3://user:[REDACTED:url-password]@s3.example.com/bucket"],
    ),
    (
        "GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=AbC%2Bd%3D&se=2030",
        ["AbC%2Bd%3D"],
        ["sv=2022-11-02&sig=[REDACTED:azure-sas]&se=2030"],
    ),
    (
        "PUT https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2024"
        "&X-Amz-Security-Token=IQoJb3Jp&X-Amz-Signature=0123456789abcdef0123",
        [AWS_ID, "IQoJb3Jp", "0123456789abcdef0123"],
        ["X-Amz-Credential=[REDACTED:aws-access-key]", "X-Amz-Signature=[REDACTED:token]"],
    ),
    (
        json.dumps(
            {
                "type": "service_account",
                "private_key_id": "1a2b3c4d5e",
                "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0\n"
                "-----END PRIVATE KEY-----\n",
                "client_email": "sa@proj.iam.gserviceaccount.com",
            }
        ),
        ["1a2b3c4d5e", "MIIEvQIBADANBgkq", "hkiG9w0"],
        ['"private_key": "[REDACTED:gcs-private-key]"', '"type": "service_account"'],
    ),
    (
        "key material follows\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq83Fz\n"
        "-----END RSA PRIVATE KEY-----\nafter",
        ["MIIEpAIBAAKCAQEA", "q83Fz"],
        [
            "-----BEGIN RSA PRIVATE KEY-----[REDACTED:private-key]-----END RSA PRIVATE KEY-----",
            "\nafter",
        ],
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (truncated)",
        ["b3BlbnNzaC1rZXktdjEAAAAA", "truncated"],
        ["[REDACTED:private-key]"],
    ),
    (
        "AZURE_ACCOUNT_KEY=abc+def== AZURE_STORAGE_KEY=xyz987 B2_APPLICATION_KEY=K001abc "
        "B2_ACCOUNT_ID=0012345",
        ["abc+def==", "xyz987", "K001abc", "0012345"],
        [
            "AZURE_ACCOUNT_KEY=[REDACTED:azure-key]",
            "B2_APPLICATION_KEY=[REDACTED:b2-key]",
            "B2_ACCOUNT_ID=[REDACTED:b2-key]",
        ],
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy==;Endpoint=x",
        ["Zm9vYmFy"],
        ["AccountName=acct;AccountKey=[REDACTED:azure-key]"],
    ),
    (
        "MY_API_TOKEN=t0k DB_PASSWORD=pw1 FOO_KEY=k3y SOME_SECRET=s3c PWD=/root",
        ["t0k", "pw1", "k3y", "s3c"],
        [
            "MY_API_TOKEN=[REDACTED:token]",
            "DB_PASSWORD=[REDACTED:password]",
            "FOO_KEY=[REDACTED:secret]",
            "SOME_SECRET=[REDACTED:secret]",
            "PWD=/root",
        ],
    ),
    (
        '{"name":"KOPIA_PASSWORD","value":"hunter2"}\n- name: AWS_SECRET_ACCESS_KEY\n'
        "  value: s3cr3tval",
        ["hunter2", "s3cr3tval"],
        ['"value":"[REDACTED:kopia-password]"', "value: [REDACTED:aws-secret-key]"],
    ),
    (
        "Cookie: session=abcdef123456; csrftoken=zyx",
        ["abcdef123456", "zyx"],
        ["Cookie: [REDACTED:token]"],
    ),
    (
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 used, jwt " + JWT,
        ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", JWT],
        ["token [REDACTED:token] used"],
    ),
    (f"found stray key {AWS_ID} in output", [AWS_ID], ["[REDACTED:aws-access-key] in output"]),
]

# Lines that look secret-adjacent but hold nothing to redact: they must come out unchanged.
UNCHANGED = [
    MOVER_ENV_DUMP,
    "ERROR error connecting to repository: invalid repository password",
    "refresh token: context deadline exceeded",
    "KOPIA_PASSWORD_FILE=/etc/kopia/password",
    "  Encryption: [SET]",
    "KOPIA_REPOSITORY=s3://bucket/prefix",
    "snapshot k1f0c2d3e4 of /data created, 12 files, kopia.repository.f updated",
    "github.com/kopia/kopia/repo/blob/s3.(*s3Storage).GetBlob: s3.go:123",
    "Client identity set successfully to backup@volsync",
    "[REDACTED:kopia-password] already",
]


def _render(line: str, redactor: Redactor | None = None) -> str:
    return (redactor or Redactor()).redact(line)


@pytest.mark.parametrize(("line", "secrets", "expected"), REALISTIC)
def test_realistic_lines(line: str, secrets: list[str], expected: list[str]) -> None:
    out = _render(line)
    for secret in secrets:
        assert secret not in out, out
    for piece in expected:
        assert piece in out, out


@pytest.mark.parametrize("line", UNCHANGED)
def test_lines_without_values_are_untouched(line: str) -> None:
    assert _render(line) == line


def test_mover_env_dump_with_real_values() -> None:
    dump = MOVER_ENV_DUMP + "\nKOPIA_PASSWORD=Tr0ub4dor&3\nWEBDAV_PASSWORD=dav-pass-1"
    out = _render(dump)
    assert out.startswith(MOVER_ENV_DUMP)
    assert "Tr0ub4dor" not in out and "dav-pass-1" not in out
    assert out.endswith(
        "KOPIA_PASSWORD=[REDACTED:kopia-password]\nWEBDAV_PASSWORD=[REDACTED:password]"
    )


def test_counts_accumulate_per_kind() -> None:
    r = Redactor()
    r.redact(f"KOPIA_PASSWORD=a1 AWS_ACCESS_KEY_ID={AWS_ID}")
    r.redact("KOPIA_PASSWORD=b2")
    r.redact(MOVER_ENV_DUMP)
    assert r.counts() == {"kopia-password": 2, "aws-access-key": 1}
    frame = pl.DataFrame({"message": ["--password=x1", None, "nothing here", "token=abc"]})
    r.redact_column(frame, "message")
    assert r.counts() == {"kopia-password": 3, "aws-access-key": 1, "token": 1}
    assert set(r.counts()) <= set(SECRET_KINDS)


def test_redact_column_matches_redact_and_keeps_the_rest() -> None:
    lines = [line for line, _, _ in REALISTIC] + UNCHANGED
    frame = pl.DataFrame(
        {"line_no": list(range(len(lines))) + [99], "message": [*lines, None]},
        schema={"line_no": pl.Int64, "message": pl.String},
    )
    out = Redactor().redact_column(frame, "message")
    assert out.columns == frame.columns and out.schema == frame.schema
    assert out["line_no"].to_list() == frame["line_no"].to_list()
    single = Redactor()
    assert out["message"].to_list() == [single.redact(x) for x in lines] + [None]
    assert Redactor().redact_many(lines) == out["message"].to_list()[:-1]


def test_redact_column_counts_equal_per_line_counts() -> None:
    lines = [line for line, _, _ in REALISTIC]
    by_column, by_line = Redactor(), Redactor()
    by_column.redact_column(pl.DataFrame({"m": lines}), "m")
    for line in lines:
        by_line.redact(line)
    assert by_column.counts() == by_line.counts()
    assert sum(by_column.counts().values()) >= len(lines)


def test_null_and_non_string_columns() -> None:
    r = Redactor()
    nulls = pl.DataFrame({"m": [None, None]})
    assert r.redact_column(nulls, "m").equals(nulls)
    cat = pl.DataFrame({"m": ["KOPIA_PASSWORD=x1"]}, schema={"m": pl.Categorical})
    out = r.redact_column(cat, "m")
    assert out["m"].to_list() == ["KOPIA_PASSWORD=[REDACTED:kopia-password]"]


def test_empty_frame_and_empty_string() -> None:
    r = Redactor()
    empty = pl.DataFrame({"m": []}, schema={"m": pl.String})
    assert r.redact_column(empty, "m").height == 0
    assert r.redact("") == ""
    assert r.counts() == {}


# --- hosts ------------------------------------------------------------------------------------


def test_hosts_and_ips_get_consistent_pseudonyms() -> None:
    r = Redactor(redact_hosts=True)
    a = r.redact("dial tcp 10.0.0.12:9000 to minio.example.com via nas.home.arpa")
    b = r.redact("retry minio.example.com (10.0.0.12) and [fd00::1]:443 MinIO.Example.com")
    assert a == "dial tcp ip-1:9000 to host-1 via host-2"
    assert b == "retry host-1 (ip-1) and [ip-2]:443 host-1"
    c = r.redact("endpoint s3.eu-central-1.amazonaws.com from 192.168.1.20, 10.0.0.120")
    assert c == "endpoint host-3 from ip-3, ip-4"
    assert r.counts() == {"ip": 5, "host": 5}


def test_hosts_after_secrets_in_urls() -> None:
    r = Redactor(redact_hosts=True)
    out = r.redact("https://admin:s3cr3t@minio.local:9000/bucket user@db.internal")
    assert out == "https://admin:[REDACTED:url-password]@host-1:9000/bucket user@host-2"


@pytest.mark.parametrize(
    "line",
    [
        "see https://github.com/kopia/kopia/issues/1234 and https://kopia.io/docs/advanced/",
        "https://bugzilla.redhat.com/show_bug.cgi?id=2000000",
        "raw.githubusercontent.com/backube/volsync/main/README.md",
        "kopia.repository.f kopia.blobcfg kopia.maintenance _log_20240101.f",
        "repo/userhost.go:42 os/user main.go transport.go:2012 log.Info fmt.Sprintf",
        "kopia v0.22.3 built with go1.22.5 version 1.2.3",
        "content k1f0c2d3e4a5b6 manifest 3f2a9b1c0d pack p0123456789abcdef-s1a2b3",
        "listening on 127.0.0.1:51515 and [::1]:80 and 0.0.0.0:9000",
        "12:34:56.789 elapsed 1h2m3s",
        "k8s.io/client-go/tools/cache/reflector.go:229 golang.org/x/net/http2",
    ],
)
def test_hosts_mode_leaves_references_and_non_hosts(line: str) -> None:
    r = Redactor(redact_hosts=True)
    assert r.redact(line) == line
    assert r.counts() == {}


def test_hosts_off_by_default() -> None:
    line = "minio.example.com 10.1.2.3"
    assert Redactor().redact(line) == line


# --- robustness -------------------------------------------------------------------------------


def _garbage() -> list[str]:
    rng = random.Random(1234)
    blob = bytes(rng.randrange(256) for _ in range(20000))
    return [
        blob.decode("latin-1"),
        blob.decode("utf-8", "surrogateescape"),  # lone surrogates
        "\x00\x00KOPIA_PASSWORD=\x00nul\x00",
        "\ud800 lone surrogate KOPIA_PASSWORD=pw",
        "\ue000kopia-password\ue001 \ue002SET] fake sentinels \ue003",
        "x" * 1_000_000,
        ("KOPIA_PASSWORD=p4ss " * 50_000)[:1_000_000],
        ("é😀 host-a.example.com 10.0.0.1 " * 40_000)[:1_000_000],
        "-----BEGIN PRIVATE KEY-----" + "A" * 1_000_000,
        '{"password":"' + "\\" * 100_001,
        "[" * 10_000 + "]" * 10_000,
        "\n" * 10_000,
    ]


@pytest.mark.parametrize("hosts", [False, True])
def test_never_raises_on_garbage(hosts: bool) -> None:
    r = Redactor(redact_hosts=hosts)
    for text in _garbage():
        out = r.redact(text)
        assert isinstance(out, str)
        assert "\ue000" not in out and "\ue001" not in out and "\ue003" not in out
    assert "p4ss" not in r.redact(("KOPIA_PASSWORD=p4ss " * 50_000)[:1_000_000])
    assert "pw" not in r.redact("\ud800 KOPIA_PASSWORD=pw").split("=", 1)[1]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    out = Redactor(redact_hosts=True).redact(text)
    assert isinstance(out, str)


# --- property: generated secrets never survive ------------------------------------------------


def _json_str(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)[1:-1]


# (template, kind, how the value appears in the line); each template renders a realistic line.
Template = tuple[Callable[[str], str], str, Callable[[str], str]]


def raw(v: str) -> str:
    return v


TEMPLATES: list[Template] = [
    (lambda v: f"KOPIA_PASSWORD={v}", "kopia-password", raw),
    (lambda v: f"export KOPIA_PASSWORD={shlex.quote(v)}", "kopia-password", shlex.quote),
    (lambda v: f"KOPIA_PASSWORD: {v}", "kopia-password", raw),
    (lambda v: f"RESTIC_PASSWORD={v} restic backup", "restic-password", raw),
    (lambda v: f"AWS_SECRET_ACCESS_KEY={v}", "aws-secret-key", raw),
    (lambda v: f"AWS_ACCESS_KEY_ID={v}\nAWS_REGION=us-east-1", "aws-access-key", raw),
    (lambda v: f"AWS_SESSION_TOKEN={v}", "aws-session-token", raw),
    (lambda v: f"AZURE_ACCOUNT_KEY={v}", "azure-key", raw),
    (lambda v: f"AZURE_STORAGE_KEY={v}", "azure-key", raw),
    (lambda v: f"B2_APPLICATION_KEY={v}", "b2-key", raw),
    (lambda v: f"MY_SERVICE_TOKEN={v}", "token", raw),
    (lambda v: f"APP_SECRET={v}", "secret", raw),
    (lambda v: f"ENCRYPTION_KEY={v}", "secret", raw),
    (lambda v: f"DB_PASSWORD={v}", "password", raw),
    (
        lambda v: (
            f"kopia repository connect s3 --bucket=b --access-key={AWS_ID} "
            f"--secret-access-key={v} --endpoint=s3.example.com"
        ),
        "aws-secret-key",
        raw,
    ),
    (
        lambda v: f"kopia repository connect s3 --access-key {v} --secret-access-key=x",
        "aws-access-key",
        raw,
    ),
    (lambda v: f"kopia repository connect filesystem --password={v}", "kopia-password", raw),
    (lambda v: f"kopia snapshot create /data --password {v} --tags=a:b", "kopia-password", raw),
    (lambda v: f"kopia repository connect b2 --bucket=b --key {v}", "b2-key", raw),
    (lambda v: f"kopia repository connect azure --storage-key={v}", "azure-key", raw),
    (lambda v: f"kopia repository connect webdav --webdav-password {v}", "password", raw),
    (lambda v: f"kopia repository connect from-config --token={v}", "token", raw),
    (lambda v: '{"password":"' + _json_str(v) + '","username":"u"}', "password", _json_str),
    (lambda v: '{"secretAccessKey": "' + _json_str(v) + '"}', "aws-secret-key", _json_str),
    (lambda v: '{"sessionToken":"' + _json_str(v) + '"}', "aws-session-token", _json_str),
    (lambda v: '{"storageKey":"' + _json_str(v) + '"}', "azure-key", _json_str),
    (lambda v: '{"key":"' + _json_str(v) + '","keyID":"k"}', "secret", _json_str),
    (
        lambda v: json.dumps({"msg": json.dumps({"password": v})}),
        "password",
        lambda v: _json_str(json.dumps(v)[1:-1]),
    ),
    (
        lambda v: json.dumps({"name": "KOPIA_PASSWORD", "value": v}),
        "kopia-password",
        lambda v: json.dumps(v)[1:-1],
    ),
    (lambda v: f"Authorization: Bearer {v}", "bearer-token", raw),
    (lambda v: f"Authorization: Basic {v}", "basic-auth", raw),
    (lambda v: f"map[Authorization:[Bearer {v}] Accept:[*/*]]", "bearer-token", raw),
    (lambda v: '{"Authorization": "' + _json_str(v) + '"}', "token", _json_str),
    (
        lambda v: f"https://admin:{quote(v, safe='')}@minio.local:9000/b",
        "url-password",
        lambda v: quote(v, safe=""),
    ),
    (
        lambda v: f"s3://kopia:{quote(v, safe='')}@s3.example.com/bucket",
        "url-password",
        lambda v: quote(v, safe=""),
    ),
    (
        lambda v: f"GET https://a.blob.core.windows.net/c?sv=2022&sig={quote(v, safe='')}&se=1",
        "azure-sas",
        lambda v: quote(v, safe=""),
    ),
    (
        lambda v: json.dumps(
            {
                "type": "service_account",
                "private_key": f"-----BEGIN PRIVATE KEY-----\n{v}\n-----END PRIVATE KEY-----\n",
            }
        ),
        "gcs-private-key",
        lambda v: json.dumps(v)[1:-1],
    ),
    (
        lambda v: f"-----BEGIN RSA PRIVATE KEY-----\n{v}\n{v[::-1]}\n-----END RSA PRIVATE KEY-----",
        "private-key",
        raw,
    ),
]

SECRET_VALUES = st.text(
    alphabet=st.characters(exclude_categories=("Z", "C"))
    | st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    min_size=8,
    max_size=40,
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(SECRET_VALUES)
def test_property_generated_secret_never_survives(value: str) -> None:
    lines = [render(value) for render, _, _ in TEMPLATES]
    out = Redactor().redact_column(pl.DataFrame({"m": lines}), "m")["m"].to_list()
    for (render, kind, shown), line, result in zip(TEMPLATES, lines, out, strict=True):
        placeholder = f"[REDACTED:{kind}]"
        forms = {value, shown(value)}
        skeleton = render("") + " ".join(f"[REDACTED:{k}]" for k in SECRET_KINDS)
        if any(form in skeleton for form in forms):
            continue  # the value is part of the template itself, e.g. "AKIA..." or "s3.example"
        for form in forms:
            assert form not in result, (line, result)
        assert placeholder in result, (line, result)


# --------------------------------------------------------------------------------------------
# Known credentials echoed by a server (Loki error bodies): scrub_credentials
# --------------------------------------------------------------------------------------------


def _loki_echo(user: str, password: str, token: str) -> str:
    import base64 as b64

    basic = b64.b64encode(f"{user}:{password}".encode()).decode()
    return (
        f"401 Unauthorized: request GET /loki/api/v1/query_range headers: "
        f'{{"Authorization": ["Basic {basic}"], "X-Token": "{token}"}} '
        f"url=https://{user}:{quote(password, safe='')}@loki.example.com/ "
        f"form password={quote(password, safe='').lower()} body={json.dumps({'password': password})} "
        f"nested={json.dumps(json.dumps({'p': password}))} plain {password} bearer {token}"
    )


@pytest.mark.parametrize(
    "password",
    ["hunter2", "p@ss/w0rd#?&=", 'quo"te\\back', "ünïcødé pässwörd", "a b+c%2F"],
)
def test_scrub_credentials_removes_every_echoed_form(password):
    from analyzer.redact import scrub_credentials

    token = "tok-" + password[::-1] + "-0123456789"
    body = _loki_echo("ops", password, token)
    out = scrub_credentials(body, [password, token], username="ops")
    import base64 as b64

    for form in (
        password,
        quote(password, safe=""),
        quote(password, safe="").lower(),
        json.dumps(password)[1:-1],
        b64.b64encode(f"ops:{password}".encode()).decode().rstrip("="),
        token,
    ):
        assert form not in out, (form, out)
    assert "***" in out and "ops" in out  # the user name alone is no secret


def test_scrub_credentials_leaves_text_without_them_and_ignores_empty_values():
    from analyzer.redact import scrub_credentials

    text = "HTTP 500: too many outstanding requests"
    assert scrub_credentials(text, [None, ""], username="ops") == text
    assert scrub_credentials("a2b", ["2"]) == "a***b"  # a short value is still scrubbed as given
    assert scrub_credentials("pw is hunter2", ["hunter2"], placeholder="[X]") == "pw is [X]"


# --------------------------------------------------------------------------------------------
# --redact-hosts: home-lab suffixes, capitals, IPv4-mapped IPv6, paths, the Loki address
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "host"),
    [
        ("connect to nas.fritz.box:445 failed", "nas.fritz.box"),
        ("dial tcp truenas.homelab:9000: connection refused", "truenas.homelab"),
        ("backup.lab timed out", "backup.lab"),
        ("dial tcp NAS.LAN:9000: i/o timeout", "NAS.LAN"),
        ("host Backup.Example.COM is down", "Backup.Example.COM"),
        ("MINIO.INTERNAL:9000 refused", "MINIO.INTERNAL"),
        ("repository at /mnt/nas01.homelab/kopia/repo", "nas01.homelab"),
        ("s3 endpoint minio.storage.svc.cluster.local:9000", "minio.storage.svc.cluster.local"),
    ],
)
def test_redact_hosts_covers_home_lab_names(line, host):
    out = Redactor(redact_hosts=True).redact(line)
    assert host not in out and host.lower() not in out.lower()
    assert "host-1" in out


def test_ipv4_mapped_ipv6_is_its_ipv4_address():
    r = Redactor(redact_hosts=True)
    out = r.redact("from ::ffff:10.0.0.5 and 10.0.0.5 and [::ffff:10.0.0.5]:443")
    assert out == "from ip-1 and ip-1 and [ip-1]:443"
    assert r.counts() == {"ip": 3}


@pytest.mark.parametrize("line", ["log.Info(x)", "file kopia.go:123", "x.Net", "main.LAB2"])
def test_redact_hosts_still_leaves_code(line):
    assert Redactor(redact_hosts=True).redact(line) == line


def test_redact_hosts_reaches_paths_and_the_loki_address(tmp_path):
    import dataclasses

    from analyzer import analyze
    from analyzer.report import RenderOptions, render_json, render_markdown
    from analyzer.sources.base import Provenance
    from tests.conftest import HUNG_BACKUP, hung_then_healthy

    root = tmp_path / "nas01.homelab"
    a = analyze([str(hung_then_healthy(root, HUNG_BACKUP))])
    loki = Provenance(
        "loki",
        paths=("http://loki.fritz.box:3100",),
        details={
            "addr": "http://loki.fritz.box:3100",
            "query": '{a="b"}',
            "mode": "full",
            "lines_received": 1,
            "bytes_received": 1,
            "requests": 1,
        },
    )
    inputs = dataclasses.replace(
        a.inputs,
        sources=[*a.inputs.sources, loki],
        gaps=[{"from": a.data_start, "to": a.data_end, "reason": "HTTP 503 from loki.fritz.box"}],
    )
    a = dataclasses.replace(a, inputs=inputs)
    options = RenderOptions(redact_hosts=True)
    md, js = render_markdown(a, options), render_json(a, options)
    for name in ("nas01.homelab", "fritz.box"):
        assert name in render_json(a, RenderOptions()) or name in render_markdown(
            a, RenderOptions()
        )
        assert name not in md and name not in js
    data = json.loads(js)
    assert data["inputs"]["loki"]["addr"].startswith("http://host-")
    assert all("nas01.homelab" not in s for s in data["inputs"]["sources"])
