"""Rule record_config: the configuration the dataset's results are made with, and its attack
parameters as a table for the report."""

from conservattack.pipeline.report import write_parameter_table, write_record
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    p, out, dataset = snakemake.params, snakemake.output, snakemake.wildcards.dataset
    write_record(out.config, p.config, dataset, p.run.text())
    write_parameter_table(p.config[dataset]["attack"], out.parameters)
    print(open(out.config).read())
