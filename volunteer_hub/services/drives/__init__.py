"""A weekend drive from set-up to the day.

| module | what it does |
|---|---|
| ``setup`` | a drive's communes, blocks and meeting points; choosing and triaging its requests |
| ``teams`` | inviting volunteers, their answers, forming teams |
| ``planning`` | rows into a planner problem and the plan back; the worker's side of planning |
| ``plan_review`` | a coordinator's moves, pins and comparisons, rechecked by the checker |
| ``publishing`` | publishing a version, the day's board, re-planning after a decline |
| ``exports`` | the plan on paper and in files: map data, route sheets, CSV and Excel |
"""
