"""Use cases as plain functions: no request, g or session inside.

Transactions belong to the caller. A use case works in the session it is given and flushes;
the view (once per request), the CLI command or the worker job that called it commits when it
returned and rolls back when it raised. So a refused input leaves nothing half-written, and a
change commits together with the SMS it causes. The exceptions commit their own steps, and say
so: the worker's long runs (SMS dispatch and reconciliation, claiming and solving a plan), which
span many transactions by design, and the last-used stamp of an API token, kept even on a read.

| package | what lives there |
|---|---|
| (modules) | ``access`` (who sees what), ``audit``, ``validation``, ``overview`` (lists), |
| | ``privacy`` (retention), ``health``, ``workers`` (a worker's name) |
| ``reference`` | places, the service catalogue, accounts and API tokens |
| ``intake`` | help requests, volunteer sign-up and phone codes, spreadsheet imports |
| ``drives`` | set-up, teams, planning, review, publishing and the day's board, exports |
| ``messaging`` | the SMS outbox and everything that sends, answers or reconciles |
| ``results`` | visit outcomes, reports and their files |
"""
