"""What only the Snakemake rules and their scripts use: the configuration's checks
(``configschema``, ``custom_config``), rule inputs from imports (``deps``), a job's log and
terminal lines (``runlog``), provenance records (``provenance``), seeds (``seeds``), an attack
rule's inputs (``attack_inputs``) and the report's captions and the configuration it checks
(``report``)."""

__all__ = ['attack_inputs', 'configschema', 'custom_config', 'deps', 'provenance', 'report', 'runlog', 'seeds']
