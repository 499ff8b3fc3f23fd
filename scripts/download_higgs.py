"""Rule download_higgs: fetch and verify atlas-higgs-challenge-2014-v2.csv.gz."""

from conservattack.data.fetch.download import fetch_first
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    cfg = snakemake.params.download
    transport = snakemake.config["higgs"]["download"]  # retries, timeout: not params (they cannot change the file)
    fetch_first(cfg["urls"], snakemake.output[0], size=cfg["size"], adler32=cfg["adler32"],
                retries=transport["retries"], timeout=transport["timeout"])
