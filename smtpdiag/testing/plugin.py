"""pytest plugin for smtpdiag (fixtures are added by the health work)."""

__all__: list[str] = []
