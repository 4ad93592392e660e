"""The adversarial generator mode: a second world written from a catalogue of real-world mess.

`tessera datagen --mode adversarial` (or `generate` here) writes the same raw tables and
truth tables as the default generator, from its own population and noise model: ad macros
and OS placeholders as device ids, junk values no blocklist has, households, kiosks and
public PCs, recycled phone numbers, gift and partner records, same-name cashier mistakes,
typos, mailbox variants, international numbers in national formats, extensions, bots and
late-arriving rows of every source. `append` delivers later loads of the same world.
Rates: `AdversarialConfig`. How truth represents shared values: `truth`.
"""

from tessera.datagen.adversarial.config import AdversarialConfig
from tessera.datagen.adversarial.generator import append, generate

__all__ = ["AdversarialConfig", "append", "generate"]
