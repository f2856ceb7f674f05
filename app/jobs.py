"""APScheduler job definitions: each job is thin and calls one domain function.

Jobs are registered by register_jobs(scheduler) from the one scheduler process; web workers
never start a scheduler. Defaults: missed runs coalesce into one, and a run may start minutes
late (APScheduler's own default grace time is one second).
"""
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}

# (job id, function path, trigger, trigger arguments); features add their jobs here.
JOBS = []


def register_jobs(scheduler):
    for job_id, func, trigger, trigger_args in JOBS:
        scheduler.add_job(func, trigger, id=job_id, replace_existing=True, **trigger_args)
    return scheduler
