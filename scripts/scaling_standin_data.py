"""Rule scaling_standin_data: the Higgs stand-in, a smoothed bootstrap of the real events
(conservattack.data.standin), split, resampled per split, treated and scaled."""

from conservattack.data.higgs import read_higgs
from conservattack.data.io import write_json, write_parquet
from conservattack.data.preprocessing import SPLITS
from conservattack.data.standin import STANDIN, prepare_higgs_standin
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    p = snakemake.params
    real = read_higgs(list(snakemake.input.csv))
    s = p.stand_in
    prepared = prepare_higgs_standin(real, events=s["events"], split=p.split, split_seed=p.split_seed, seed=p.seed,
                                     bandwidth_factor=s["bandwidth_factor"], atom_fraction=s["atom_fraction"],
                                     missing_policy=p.missing_policy)
    for name in SPLITS:
        write_parquet(prepared["splits"][name], snakemake.output[name])
    prepared["scaler"].save(snakemake.output.scaler)
    print(prepared["counts"])
    smoothing = {name: {f: {k: v for k, v in plan.items() if k not in ("atoms", "values")} | {"atoms": plan["atoms"][:20]}
                        for f, plan in prepared["plans"][name].items()} for name in SPLITS}
    write_json({"data": STANDIN, "standin": True,
                "description": f"{STANDIN}: smoothed bootstrap of {len(real):,} real events to {s['events']:,}",
                "real_events": len(real), "files": list(snakemake.input.csv), "counts": prepared["counts"],
                "missing": prepared["missing"], "smoothing": smoothing,
                **provenance({"stand_in": s, "missing_policy": p.missing_policy, "split": p.split,
                              "split_seed": p.split_seed, "seed": p.seed})}, snakemake.output.meta)
