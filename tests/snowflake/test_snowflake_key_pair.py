"""Key-pair login, as README documents it: SNOWFLAKE_PRIVATE_KEY_PATH, and for an encrypted
key SNOWFLAKE_PRIVATE_KEY_PASSPHRASE, reach every Python layer's connection (not only dbt's
profile). Against the local fakesnow server, which accepts any key: what is tested is that
the key is read and decrypted here, and that a wrong or missing passphrase is one clear line
that names the variable and never the passphrase."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fakesnow_env import FakesnowServer, running_fakesnow

from tessera.settings import Settings, SettingsError
from tessera.warehouse import Warehouse

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesnowServer]:
    with running_fakesnow(tmp_path_factory.mktemp("fakesnow_key_pair")) as running:
        yield running


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encodings = {
        "encrypted": serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        "plain": serialization.NoEncryption(),
    }
    paths = {}
    for name, encryption in encodings.items():
        paths[name] = folder / f"{name}.p8"
        paths[name].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        )
    paths["not_a_key"] = folder / "notes.txt"
    paths["not_a_key"].write_text("not a key\n")
    return paths


def key_pair_settings(server: FakesnowServer, key: Path, passphrase: str | None) -> Settings:
    env = {name: value for name, value in server.env.items() if name != "SNOWFLAKE_PASSWORD"}
    env |= {"TESSERA_TARGET": "snowflake", "SNOWFLAKE_PRIVATE_KEY_PATH": str(key)}
    if passphrase is not None:
        env["SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"] = passphrase
    return Settings.from_env(env)


@pytest.mark.parametrize("key, passphrase", [("encrypted", PASSPHRASE), ("plain", None)])
def test_key_pair_login_reaches_the_python_layers(
    server: FakesnowServer, keys: dict[str, Path], key: str, passphrase: str | None
) -> None:
    settings = key_pair_settings(server, keys[key], passphrase)
    with Warehouse(settings).session() as session:
        assert session.scalar("select 1") == 1


@pytest.mark.parametrize(
    "key, passphrase, message",
    [
        ("encrypted", None, "the key is encrypted; set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"),
        ("encrypted", "Tr0ub4dor&3", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE does not decrypt the key"),
        (
            "plain",
            "Tr0ub4dor&3",
            "the key is not encrypted; unset SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
        ),
        ("not_a_key", None, "not a PEM private key"),
        ("missing", None, "cannot read the key file (No such file or directory)"),
    ],
)
def test_a_key_that_cannot_be_read_is_one_line_naming_the_variable(
    server: FakesnowServer, keys: dict[str, Path], key: str, passphrase: str | None, message: str
) -> None:
    path = keys.get(key, keys["plain"].with_name("missing.p8"))
    settings = key_pair_settings(server, path, passphrase)
    with pytest.raises(SettingsError) as raised, Warehouse(settings).session():
        pass
    text = str(raised.value)
    assert text == f"SNOWFLAKE_PRIVATE_KEY_PATH={path}: {message}"
    assert "Tr0ub4dor" not in text and PASSPHRASE not in text
