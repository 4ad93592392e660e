"""Read the key-pair private key for Snowflake, with an error that says what is wrong.

The connector would raise `TypeError: Password was not given but private key is encrypted`
from deep inside its login; reading the key here names the variable to set instead. The
passphrase never appears in a message.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from tessera.settings import SettingsError


def private_key_der(path: str, passphrase: SecretStr | None) -> bytes:
    """The key at `path` (PEM, PKCS#8 or PKCS#1, encrypted or not) as unencrypted DER PKCS#8,
    which is what the connector's `private_key` argument takes."""
    from cryptography.hazmat.primitives import serialization

    key_file = Path(path).expanduser()
    where = f"SNOWFLAKE_PRIVATE_KEY_PATH={path}"
    try:
        pem = key_file.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read the key file ({exc.strerror})") from None
    password = passphrase.get_secret_value().encode() if passphrase is not None else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError:
        if password is None:
            raise SettingsError(
                f"{where}: the key is encrypted; set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
            ) from None
        raise SettingsError(
            f"{where}: the key is not encrypted; unset SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
        ) from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in pem:
            raise SettingsError(
                f"{where}: SNOWFLAKE_PRIVATE_KEY_PASSPHRASE does not decrypt the key"
            ) from None
        raise SettingsError(f"{where}: not a PEM private key") from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
