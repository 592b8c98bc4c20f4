"""`vggt4d batch`: many shots on a Ray cluster, one bundle each, and batch.json (docs/batch.md).

`shots` reads the shots, `batch_format` holds the batch folder's format (shared with the
add-on), `record` writes batch.json and owns the folder lock, `cluster` starts or joins Ray,
`tasks` is what runs on a worker, `runner` schedules, follows and cancels. Ray is an optional
dependency (`pip install './backend[farm]'`), imported only when a batch runs.
"""
