"""SMS as the service sends it.

| module | what it does |
|---|---|
| ``settings`` | the ``VH_SMS_*`` settings, read once |
| ``outbox`` | queueing, cancelling, opting out: messages are rows in their cause's transaction |
| ``dispatch`` | the worker sends due messages and records what the provider said |
| ``reconcile`` | after a crash, ``sending`` rows are settled with the provider |
| ``delivery`` | delivery reports, failing numbers, a drive's SMS problems |
| ``templates`` | the texts of each kind of message, their placeholders and cost preview |
| ``notifications`` | the messages a visit causes (assignment, change, cancellation, thanks) |
| ``reminders`` | reminders the worker plans for published visits |
| ``links`` | personal links (``/s/<code>``) behind each SMS |
| ``responses`` | what volunteers and households answer, by link or SMS reply |
| ``inbound`` | replies by SMS where two-way SMS works |
"""
