"""`vggt4d batch`: many shots on a Ray cluster, one bundle each, and batch.json (docs/batch.md).

`shots` reads the shots file, `record` owns batch.json and the folder lock, `cluster` starts or
joins Ray, `tasks` is what runs on a worker, `runner` schedules, follows and cancels. Ray is an
optional dependency (`pip install './backend[farm]'`), imported only when a batch runs.
"""
