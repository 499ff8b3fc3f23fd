"""Rule download_ttww: a sample's first files from its CERN Open Data records, verified."""

from conservattack.data.io import write_json
from conservattack.data.fetch.opendata import fetch_records
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    p = snakemake.params
    o = p.opendata
    transport = snakemake.config["ttww"]["opendata"]  # retries, timeout: not params (they cannot change the files)
    manifest = fetch_records(p.records, p.dest, n_files=o["n_files"], server=o["server"],
                             record_url=o["record_url"], index_url=o["index_url"], checksums=o["checksums"],
                             retries=transport["retries"], timeout=transport["timeout"], local_option=p.local_option)
    for m in manifest["records"]:
        print(f"record {m['record']}: {len(m['files'])} of {m['listed']} listed file(s)")
        for f in m["files"]:
            print(f"  {f['path']} ({f['size']} bytes, {'verified' if f['verified'] else 'NOT verified'})")
    write_json({"sample": snakemake.wildcards.sample, **manifest}, snakemake.output[0])
