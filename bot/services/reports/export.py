"""The report as tables: printed by the CLI and written as CSV (one file per table)."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.services.reports.model import Report, Stats
from bot.services.reports.text import period_label

Table = list[list[str]]


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def _stats(prefix: str, value: Stats) -> list[list[str]]:
    return [[f"{prefix}_{part}", _num(getattr(value, part))]
            for part in ("count", "avg", "p50", "p95", "max")]


def tables(report: Report) -> dict[str, Table]:
    """name → rows (first row is the header). Empty cells mean "not recorded yet" / n/a."""
    v, b, w, q, a = report.volumes, report.bot, report.waiting, report.quality, report.aftersales
    summary: Table = [["metric", "value"], ["period", period_label(report)],
                      ["timezone", report.timezone]]
    summary += [[k, _num(x)] for k, x in (
        ("conversations", v.conversations), ("shopper_messages", v.shopper_messages),
        ("agent_messages", v.agent_messages), ("customers", v.customers),
        ("new_customers", v.new_customers), ("returning_customers", v.returning_customers),
        *((f"conversations_{name}", count) for name, count in sorted(v.by_channel.items())),
        ("resolved_without_human", b.resolved_without_human),
        ("resolved_share", b.resolved_share), ("faq_questions", b.faq_questions),
        ("faq_hits", b.faq_hits), ("faq_hit_rate", b.faq_hit_rate),
        ("feedback_helpful", b.feedback_helpful), ("feedback_total", b.feedback_total),
    )]
    summary += _stats("shopper_wait", w.shopper_wait)
    summary += [[k, _num(x)] for k, x in (
        ("unanswered_messages", w.unanswered_messages),
        ("greeted_on_time", w.greeted_on_time), ("greeted_share", w.greeted_share),
        ("sla_breaches", w.sla_breaches), ("holding_replies", w.holding_replies),
        ("reassignments", w.reassignments),
    )]
    summary += _stats("human_first_reply", w.human_first_reply)
    summary += _stats("human_next_reply", w.human_next_reply)
    summary += [[k, _num(x)] for k, x in (
        ("survey_answers", q.survey_answers), ("satisfaction_avg", q.satisfaction_avg),
        ("satisfied_share", q.satisfied_share), ("complaints", q.complaints),
        ("complaints_handled", q.complaints_handled), ("complaint_steps", q.complaint_steps),
        ("tone_guard", q.tone_guard), ("tickets_opened", a.tickets_opened),
        ("tickets_resolved", a.tickets_resolved), ("handling_rate", a.handling_rate),
        ("tickets_on_time", a.tickets_on_time), ("on_time_rate", a.on_time_rate),
        ("tickets_reopened", a.tickets_reopened), ("reopen_rate", a.reopen_rate),
        ("follow_ups_done", a.follow_ups_done), ("late_shipments", a.late_shipments),
    )]
    summary += [[f"follow_up_{k}", str(n)] for k, n in a.follow_up_outcomes.items()]
    if report.sales is not None:  # selling (P5, P6, 催缴): bot/services/products/figures.py
        s = report.sales
        summary += [[k, _num(x)] for k, x in (
            ("inquiring_shoppers", s.inquiring_shoppers),
            ("converted_shoppers", s.converted_shoppers), ("conversion_rate", s.conversion_rate),
            ("payment_reminders_sent", s.reminders_sent),
            ("paid_after_reminder", s.reminders_paid),
            ("recommendations_shown", s.recommendations_shown),
            ("recommendations_clicked", s.recommendations_clicked),
        )]
    summary.append(["not_recorded", " ".join(report.not_recorded)])
    agents: Table = [["agent_id", "name", "conversations", "messages", "first_reply_p50",
                      "first_reply_p95", "next_reply_p50", "sla_breaches", "holding_replies",
                      "reassignments", "complaints", "complaint_steps", "tone_guard",
                      "survey_answers", "satisfaction_avg"]]
    agents += [[str(x.agent_id), x.name, str(x.conversations), str(x.messages),
                _num(x.first_reply.p50), _num(x.first_reply.p95), _num(x.next_reply.p50),
                _num(x.sla_breaches), _num(x.holding_replies), _num(x.reassignments),
                str(x.complaints), _num(x.complaint_steps), _num(x.tone_guard),
                _num(x.survey_answers), _num(x.satisfaction_avg)] for x in report.agents]
    return {
        "summary": summary,
        "agents": agents,
        "changes": [["metric", "before", "now", "change"]]
        + [[c.key, _num(c.before), _num(c.now), _num(c.delta)] for c in report.changes],
        "escalations": [["reason", "count"]] + [[k, str(n)] for k, n in b.escalations.items()],
        "unanswered": [["question", "count"]] + [[t, str(n)] for t, n in b.unanswered],
        "wait_buckets": [["wait", "count"]] + [[k, str(n)] for k, n in w.wait_buckets],
        "by_hour": [["hour", "shopper_messages"]]
        + [[str(h), str(n)] for h, n in enumerate(report.by_hour)],
        "by_day": [["day", "conversations"]] + [[str(d), str(n)] for d, n in report.by_day],
        "satisfaction_by_day": [["day", "satisfaction_avg"]]
        + [[str(d), _num(s)] for d, s in report.satisfaction_by_day],
    }


def write_csv(report: Report, folder: Path) -> list[Path]:
    """One UTF-8 CSV per table (with BOM, so spreadsheet programs read 中文 right)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in tables(report).items():
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(rows)
        written.append(path)
    return written


def format_table(rows: Table) -> str:
    """Aligned plain-text table for the terminal."""
    if not rows:
        return ""
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows)
              for i in range(max(len(r) for r in rows))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
