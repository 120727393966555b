"""Data tiers: which data may go to which model or export, approvals by a
privacy team and their audit log, redaction of personal data, and erasure.

- ``policy``: the ``[privacy]`` section of ``promptlab.toml``.
- ``guard``: a sweep's, evaluation's or export's data checked against it.
- ``approvals``: exceptions a privacy approver grants; ``log``: the audit log.
- ``erasure``: forgetting a person's data, and retention.
"""
