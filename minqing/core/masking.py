"""Personal data is shown masked everywhere; revealing it is a separate, audited action."""


def mask_id_number(value: str | None) -> str:
    """430302********1234: region code and last four stay, birth date and order are hidden."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """138****5678"""
    if not value:
        return ""
    digits = value.strip()
    if len(digits) < 7:
        return "*" * max(len(digits) - 2, 0) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
