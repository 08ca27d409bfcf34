"""What a pipeline run did: one read model, three renderers.

The read model reads ML Metadata and the artifacts into plain data:

  run_record   `read_run`: one run as a RunRecord (components, counts,
               anomalies, training, metrics, verdict, push, lineage);
               `read_history`: every run of a pipeline.
  report_data  `read_report_data`: what only the HTML report shows (caption
               statistics, loss per epoch, retrieval examples).
  mlmd         ML Metadata in both of TFX's layouts, underneath both; the
               files the components wrote are read with
               coco_captions/artifacts.py, which the components share.

The renderers read nothing themselves:

  run_summary  the lines the CLI prints at the end of a run.
  report       the HTML report (templates/, charts, facets, pages), and the
               command that reads, renders and writes it:
               python -m coco_captions.reporting.report
  run_history  the page of every run (reports/index.html).

A new report section: its data comes from the read model, `report.sections`
lists it and templates/section_<anchor>.html.j2 draws it.
"""
