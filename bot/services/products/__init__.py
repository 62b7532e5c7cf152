"""The shop's catalogue at work (P5, P6): import, name matching, product answers, size advice,
recommendations and 催付 reminders. No aiogram here; ``phrases.sizing`` parses body sizes."""
