"""Realistic shapes of secrets in Kopia / VolSync mover output, and lines that hold none.

Each shape is (id, text, secret): `text` is one log line or a block of consecutive lines of one
stream (split on `\\n`, one row each, as a pasted Secret, pod spec or `set -x` trace arrives);
`secret` must not appear anywhere in a report or its JSON, and the report must count it.
`tests/test_secrets_corpus.py` runs them line by line through the redactor and end to end.
"""

from __future__ import annotations

AWS_ID = "AKIAQ3EGUJ7W5EXAMPL2"
AWS_SECRET = "q7Rk/2Lx+9vTn3/WbZp8sYd4FhJmC1eNa6uGo0Ki"
PEM_BODY = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
    "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ",
    "agB2kX9qPx1oL4nW7cRz",
)
EC_BODY = (
    "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49",
    "AwEHoUQDQgAEPR3tU2Fta9ktY+6P9G4cWdH3GzP6sz7vVF8Rr9WvdpO6wkjQ9Zz2",
)
YA29 = "ya29.a0AfB_byC8kJ3mPq9rXo2LwN5tV7yZ1uE4sD6fG8hJ0kLmNoPq"
REFRESH = "1//0gLx7Qm2Vr9sKp3TzYw8NbFh4JdXc6UeAo1RiGyBt5MnLqWs"
GHP = "ghp_R8pX2mK7vQ9tW3yL5nB1cD4fG6hJ0kZs8aEu"

#: (id, text, secret)
SHAPES: list[tuple[str, str, str]] = [
    # Environment assignments and mover env dumps
    ("env-kopia", "KOPIA_PASSWORD=correct-horse-battery-staple", "correct-horse-battery-staple"),
    ("env-restic", "RESTIC_PASSWORD=Tr0ub4dor&3-rzqtv", "Tr0ub4dor&3-rzqtv"),
    ("env-aws-secret", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
    ("env-aws-id", f"AWS_ACCESS_KEY_ID={AWS_ID}", AWS_ID),
    (
        "env-aws-session",
        "AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaDHqa0AP1vSessionTok",
        "FwoGZXIvYXdzEBYaDHqa0AP1vSessionTok",
    ),
    ("env-export-quoted", 'export KOPIA_PASSWORD="s3cr3t with spacesq7"', "s3cr3t with spacesq7"),
    ("env-colon", "KOPIA_PASSWORD: hunter2-colon-form", "hunter2-colon-form"),
    (
        "env-azure",
        "AZURE_ACCOUNT_KEY=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
        "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
    ),
    (
        "env-b2",
        "B2_APPLICATION_KEY=K005Xh2mUq9vRt7yWpLs3nBc8dFg1jZ",
        "K005Xh2mUq9vRt7yWpLs3nBc8dFg1jZ",
    ),
    ("env-webdav", "WEBDAV_PASSWORD=dav-pass-7731", "dav-pass-7731"),
    (
        "env-rclone",
        "RCLONE_CONFIG_MYS3_SECRET_ACCESS_KEY=rcl0neS3cretValue99",
        "rcl0neS3cretValue99",
    ),
    ("env-rclone-pass", "RCLONE_CONFIG_SFTP_PASS=obscuredPassXyz123", "obscuredPassXyz123"),
    ("env-declare", 'declare -x RESTIC_PASSWORD="declared-szqwv-42"', "declared-szqwv-42"),
    ("env-loki", "LOKI_PASSWORD=loki-bzqxy-pw-9", "loki-bzqxy-pw-9"),
    # Flags and argv
    (
        "flag-eq",
        "kopia repository connect filesystem --path=/repo --password=flagEqSecret1",
        "flagEqSecret1",
    ),
    (
        "flag-space",
        "INFO: Arguments: kopia repository create filesystem --password flagSpace2 --cache-directory=/c",
        "flagSpace2",
    ),
    ("flag-quoted", 'kopia repository connect s3 --password "two wordsq here"', "two wordsq here"),
    (
        "flag-s3",
        f"kopia repository connect s3 --bucket=b --access-key={AWS_ID} --secret-access-key={AWS_SECRET}",
        AWS_SECRET,
    ),
    (
        "flag-azure",
        "kopia repository connect azure --container=c --storage-key=AzStorKey0123456789abc==",
        "AzStorKey0123456789abc",
    ),
    (
        "flag-b2",
        "kopia repository connect b2 --bucket=b --key-id=0012ab34cd --key=K001b2SecretKeyValue",
        "K001b2SecretKeyValue",
    ),
    (
        "flag-short-p",
        "kopia repository connect filesystem --path /repo -p shortPSecret7",
        "shortPSecret7",
    ),
    ("sshpass", "sshpass -p 'sshPassw0rd!' ssh backup@nas", "sshPassw0rd!"),
    (
        "argv-json",
        'exec: ["kopia", "repository", "connect", "--password", "argvJsonSecret"]',
        "argvJsonSecret",
    ),
    (
        "argv-go",
        "command: [kopia repository connect filesystem --path=/repo --password argvGoSecret]",
        "argvGoSecret",
    ),
    (
        "argv-pretty",
        '  "args": [\n    "--password",\n    "argvPrettySecret",\n    "--path=/repo"',
        "argvPrettySecret",
    ),
    ("argv-yaml", "    args:\n    - --password\n    - argvYamlSecret", "argvYamlSecret"),
    (
        "setx-flag",
        "+ kopia repository connect filesystem --path=/repository --password=setxSecret1",
        "setxSecret1",
    ),
    (
        "setx-quoted-flag",
        "+ kopia repository connect s3 '--password=set x zqflagv9' --bucket=b",
        "set x zqflagv9",
    ),
    ("setx-quoted-env", "+ export 'KOPIA_PASSWORD=qenv zqenvv7'", "qenv zqenvv7"),
    ("setx-env", "++ KOPIA_PASSWORD=setxEnvSecret", "setxEnvSecret"),
    # URLs
    (
        "url-simple",
        "unable to connect: https://admin:urlPass123@minio.example.com:9000/bucket",
        "urlPass123",
    ),
    ("url-slash", f"connecting to s3://{AWS_ID}:{AWS_SECRET}@backups/kopia", AWS_SECRET),
    ("url-hash", "repository at sftp://kopia:pa#ss#word@nas.lan/backups", "pa#ss#word"),
    ("url-question", "webdav https://u:what?isthis1@dav.example.org/remote.php", "what?isthis1"),
    ("url-at", "rest:https://backup:p@ssw0rd@rest.example.com:8000/repo", "p@ssw0rd"),
    ("url-query-password", "GET /api?user=x&password=queryPw55 HTTP/1.1", "queryPw55"),
    (
        "url-presigned",
        "GET https://b.s3.amazonaws.com/o?X-Amz-Signature=8f3a9b2c7d1e4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a",
        "8f3a9b2c7d1e4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a",
    ),
    (
        "url-sas",
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=SasSigValueAbc%2Bdef%3D",
        "SasSigValueAbc",
    ),
    # Headers and tokens
    (
        "bearer",
        "error: Authorization: Bearer bearerTokenValue0123456789 rejected",
        "bearerTokenValue0123456789",
    ),
    ("basic", "Authorization: Basic a29waWE6aHVudGVyMg==", "a29waWE6aHVudGVyMg"),
    (
        "header-dump",
        "headers: map[Authorization:[Bearer goHeaderToken0123456789]]",
        "goHeaderToken0123456789",
    ),
    ("cookie", "Cookie: session=cookieSessionValue77; path=/", "cookieSessionValue77"),
    ("api-key", "x-api-key: apiKeyValue0123456789", "apiKeyValue0123456789"),
    (
        "jwt",
        "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrb3BpYSJ9.c2lnbmF0dXJlLXRlc3QtanNvbg",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrb3BpYSJ9.c2lnbmF0dXJlLXRlc3QtanNvbg",
    ),
    (
        "kopia-token",
        "kopia repository connect from-config --token eyJ2ZXJzaW9uIjoiMSIsInN0b3JhZ2UiOnt9fQ",
        "eyJ2ZXJzaW9uIjoiMSIsInN0b3JhZ2UiOnt9fQ",
    ),
    ("ghp", f"git clone https://github.com/x/y failed using {GHP}", GHP),
    ("glpat", "using glpat-Abc123Def456Ghi789Jkl0 for registry", "glpat-Abc123Def456Ghi789Jkl0"),
    ("slack", "notify: xoxb-1234567890-abcdefghijk", "xoxb-1234567890-abcdefghijk"),
    (
        "google-api-key",
        "maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    ("ya29", f"gcs: using access token {YA29}", YA29),
    ("refresh-1//", f"oauth2: refreshing with {REFRESH}", REFRESH),
    ("ya29-error", f"ERROR: gcs request failed: 401 invalid credentials for token {YA29}", YA29),
    ("refresh-error", f"ERROR: oauth2: cannot fetch token: invalid_grant {REFRESH}", REFRESH),
    ("ghp-error", f"ERROR: failed to push status with {GHP}", GHP),
    # Template masking cuts these into `xoxb-<NUM>-…` / `AIzaSyD-<ID>-…`: no tail may be left.
    (
        "slack-error",
        "ERROR: notify failed: xoxb-2234567890-zyxwvutsrqpo",
        "xoxb-2234567890-zyxwvutsrqpo",
    ),
    (
        "google-key-error",
        "ERROR: geocode failed with key AIzaSyB-8tSrke72PouQMnMX-a7eZSW0jkFMBWQ",
        "AIzaSyB-8tSrke72PouQMnMX-a7eZSW0jkFMBWQ",
    ),
    # JSON, YAML, ini
    ("json-password", 'error parsing config {"password":"jsonPw0rd","bucket":"b"}', "jsonPw0rd"),
    ("json-escaped", '{"log":"{\\"password\\":\\"escapedJsonPw\\"}\\n"}', "escapedJsonPw"),
    (
        "json-gcs",
        '{"type":"service_account","private_key_id":"0123456789abcdef0123456789abcdef01234567"}',
        "0123456789abcdef0123456789abcdef01234567",
    ),
    (
        "docker-auth",
        '{"auths":{"ghcr.io":{"auth":"dXNlcjpkb2NrZXJBdXRoUGFzcw=="}}}',
        "dXNlcjpkb2NrZXJBdXRoUGFzcw",
    ),
    ("yaml-password", "  password: yamlPlainPw", "yamlPlainPw"),
    (
        "secret-data",
        "data:\n  KOPIA_PASSWORD: aHVudGVyMi1zZWNyZXQtZGF0YQ==",
        "aHVudGVyMi1zZWNyZXQtZGF0YQ",
    ),
    ("ini-aws", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    (
        "rclone-pass",
        "[nas]\ntype = sftp\nhost = nas.lan\nuser = backup\npass = rcloneObscuredPass1",
        "rcloneObscuredPass1",
    ),
    (
        "rclone-key",
        "[b2]\ntype = b2\naccount = 0012ab34cd\nkey = K005rcloneB2Key",
        "K005rcloneB2Key",
    ),
    (
        "rclone-token",
        '[gdrive]\ntype = drive\ntoken = {"access_token":"' + YA29 + '","token_type":"Bearer"}',
        YA29,
    ),
    ("netrc", "machine nas.lan login backup password netrcPw321", "netrcPw321"),
    # Kubernetes env pairs across lines
    ("k8s-yaml-env", "    env:\n    - name: KOPIA_PASSWORD\n      value: hunter2", "hunter2"),
    (
        "k8s-yaml-env-quoted",
        '    - name: RESTIC_PASSWORD\n      value: "quotedYamlEnv"',
        "quotedYamlEnv",
    ),
    (
        "k8s-yaml-env-aws",
        f"    - name: AWS_SECRET_ACCESS_KEY\n      value: {AWS_SECRET}",
        AWS_SECRET,
    ),
    (
        "k8s-json-env",
        '          {\n            "name": "AWS_SECRET_ACCESS_KEY",\n            "value": "jsonEnvSecretValue"\n          },',
        "jsonEnvSecretValue",
    ),
    (
        "k8s-json-env-kopia",
        '  "name": "KOPIA_PASSWORD",\n  "value": "prettyJsonKopia"',
        "prettyJsonKopia",
    ),
    (
        "k8s-json-env-inline",
        '{"name": "KOPIA_PASSWORD", "value": "inlineJsonEnv"}',
        "inlineJsonEnv",
    ),
    # PEM private keys
    (
        "pem-one-row",
        "key: -----BEGIN PRIVATE KEY-----\\n" + PEM_BODY[0] + "\\n-----END PRIVATE KEY-----",
        PEM_BODY[0],
    ),
    (
        "pem-rsa-lines",
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + "\n".join(PEM_BODY)
        + "\n-----END RSA PRIVATE KEY-----",
        PEM_BODY[1],
    ),
    (
        "pem-last-line",
        "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END PRIVATE KEY-----",
        PEM_BODY[3],
    ),
    (
        "pem-ec-lines",
        "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(EC_BODY) + "\n-----END EC PRIVATE KEY-----",
        EC_BODY[0],
    ),
    (
        "pem-openssh",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + "\n".join(PEM_BODY[:2])
        + "\n-----END OPENSSH PRIVATE KEY-----",
        PEM_BODY[0],
    ),
    (
        "pem-yaml-indented",
        "  ssh-privatekey: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    "
        + EC_BODY[1]
        + "\n    -----END OPENSSH PRIVATE KEY-----",
        EC_BODY[1],
    ),
    ("pem-body-alone", PEM_BODY[1] + "\n" + PEM_BODY[2], PEM_BODY[2]),
]

#: Lines with no secret that must come out unchanged (no over-redaction of Kopia's own ids).
NO_SECRET: list[str] = [
    "Created snapshot with root k3c5e8a4f4c2c1b0d9e8f7a6b5c4d3e2f1 and ID 7f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c in 1m2s",
    "Snapshot k7c1e4f0a2b3c4d5e6f70819a2b3c4d5e manifest 1a2b3c4d5e6f708192a3b4c5d6e7f809 saved",
    "blob q0123456789abcdef0123456789abcdef-s0123456789abcdef-c1 not found",
    "content xn0_0123456789abcdef0123456789abcdef-1234-1 is referenced but missing",
    "sha256:cf44b5414b124a2716dc1ee27293e07d345ba668832ef1795e22c2b3a845b48a",
    "KOPIA_PASSWORD: [SET]",
    "AWS_SECRET_ACCESS_KEY: [NOT SET]",
    "- name: KOPIA_REPOSITORY\n  value: filesystem:///repository",
    "- name: KOPIA_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: recyclarr-volsync-kopia",
    "Connecting to filesystem repository at /repository",
    "Executing connection command...",
    "INFO: Using password from environment",
    "ERROR: invalid repository password",
    "kopia repository connect filesystem --path=/repository --cache-directory=/cache",
    "https://github.com/kopia/kopia/issues/2195",
    "Uploaded 1.2 GB in 3m4s (6.5 MB/s), 12345 files, hashing with BLAKE2B-256-128",
    "  --password-file string   read the password from a file",
    "ffmpeg -p 8080 -v quiet",
]
