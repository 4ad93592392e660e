"""How identity holds when a company's mess is worse than our generator's defaults.

    python -m bench.bench_identity_sensitivity [--persons 5000] [--factor 3] [--only NAME ...]
        [--workdir DIR] [--write]

Another company's data has the same kinds of mess at other rates. For each family of the
adversarial generator's rates (tessera/datagen/adversarial/config.py), this multiplies that
family alone by `--factor` (shares capped at 1), generates a world of `--persons` with the
bench seed, runs `dbt run` of staging and identity with the shipped defaults, and reports
`tessera identity evaluate`'s precision, recall of linkable pairs, true persons wrongly
merged, the most true persons in one cluster, and the wrong pairs by cause. A family whose
figures collapse (rather than degrade in proportion) marks a rule that only holds at our
generator's rates. `--write` appends the table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_adversarial import _dbt_run, _settings
from bench.common import BENCH_END_DATE, BENCH_SEED

FAMILIES: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "two persons on one record (gift, partner card, same-name email)": (
        "gift_order_share",
        "partner_card_share",
        "same_name_email_share",
    ),
    "households (landline, tablet, family email)": (
        "household_landline_share",
        "household_tablet_share",
        "household_email_share",
    ),
    "junk and store values (junk email/phone, store phone, house card)": (
        "junk_email_share",
        "junk_phone_share",
        "store_phone_share",
        "house_card_share",
    ),
    "changed and recycled phone numbers": ("changed_phone_share", "recycled_phone_share"),
    "typos and mailbox variants": (
        "email_typo_share",
        "phone_typo_share",
        "mailbox_variant_share",
    ),
    "devices (ad macros, OS placeholders, kiosks, public PCs)": (
        "ad_macro_campaign_share",
        "lat_device_share",
        "sdk_macro_device_share",
        "kiosk_use_share",
        "public_pc_use_share",
        "public_pcs_per_10k_persons",
    ),
    "more addresses per person (work, changed, CRM duplicates)": (
        "work_email_share",
        "changed_email_share",
        "crm_duplicate_share",
    ),
}


def scaled_config(fields: tuple[str, ...], factor: float):
    from tessera.datagen.adversarial.config import AdversarialConfig

    base = AdversarialConfig()
    changes = {}
    for name in fields:
        value = getattr(base, name) * factor
        changes[name] = min(1.0, value) if name.endswith("_share") else value
    return dataclasses.replace(base, **changes)


def measure(family: str, persons: int, factor: float, workdir: Path) -> dict:
    from tessera.datagen.adversarial import generate
    from tessera.identity.evaluate import evaluate
    from tessera.warehouse import Warehouse

    slug = "".join(c if c.isalnum() else "_" for c in family.split(" (")[0])
    path = workdir / f"{slug}.duckdb"
    path.unlink(missing_ok=True)
    settings = _settings(path)
    generate(
        Warehouse(settings),
        persons=persons,
        seed=BENCH_SEED,
        end_date=BENCH_END_DATE,
        config=scaled_config(FAMILIES[family], factor),
        progress=False,
    )
    seconds = _dbt_run(settings, workdir / f"target_{slug}")
    result = evaluate(Warehouse(settings))
    path.unlink()
    return {
        "family": family,
        "precision": result.precision,
        "recall_of_linkable": result.recall_of_linkable,
        "wrongly_merged": result.true_persons_wrongly_joined,
        "true_persons": result.true_persons,
        "most_in_cluster": result.most_true_persons_in_a_cluster,
        "wrong_pairs_by_cause": result.wrong_pairs_by_cause,
        "identity_s": seconds,
    }


def table_row(m: dict, factor: float) -> str:
    causes = sorted(m["wrong_pairs_by_cause"].items(), key=lambda kv: -kv[1])
    by_cause = ", ".join(f"{cause} {n:,}" for cause, n in causes[:4])
    scale = "1" if m["family"] == "defaults" else f"{factor:g}"
    return (
        f"| {m['family']} | x{scale} | {m['precision']:.4f} | {m['recall_of_linkable']:.4f} | "
        f"{m['wrongly_merged']:,} of {m['true_persons']:,} | {m['most_in_cluster']} | "
        f"{by_cause} | {m['identity_s']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--only", nargs="+", default=[], help="families whose name starts so")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-identity-sensitivity"))
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    families = [f for f in FAMILIES if not args.only or any(f.startswith(o) for o in args.only)]
    started = time.perf_counter()
    rows = []
    for family in families:
        rows.append(
            table_row(measure(family, args.persons, args.factor, args.workdir), args.factor)
        )
        print(rows[-1], flush=True)
    if args.write:
        from bench.harness import append_section, git_sha, machine_description

        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "",
            f"## Identity when one kind of mess is {args.factor:g}x our generator's rate "
            f"(issue 15) — {when}, git {git_sha()}",
            "",
            f"Machine: {machine_description()}. `python -m bench.bench_identity_sensitivity "
            f"--persons {args.persons} --factor {args.factor:g}`: adversarial worlds of "
            f"{args.persons:,} persons (seed {BENCH_SEED}), one family of rates scaled at a "
            "time, shipped identity defaults, full `dbt run` of staging and identity "
            f"({time.perf_counter() - started:.0f} s in all).",
            "",
            "| rates scaled | factor | precision | recall of linkable | true persons wrongly "
            "merged | most true persons in a cluster | wrong pairs by cause (largest 4) | "
            "identity s |",
            "|---|---|---:|---:|---:|---:|---|---:|",
            *rows,
        ]
        append_section(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
