"""The short text summary: what the owner reads in Telegram and the CLI prints first."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.services.products.figures import sales_text
from bot.services.rates import rates_text
from bot.services.reports.labels import Words, label, words_of
from bot.services.reports.model import AgentSection, Report, Stats
from bot.services.rota import duty_text
from phrases.complaint_cause import cause_label

RATE_KEYS = {"resolved_share", "faq_hit_rate", "greeted_share", "handling_rate",
             "on_time_rate", "reopen_rate"}
SECONDS_KEYS = {"wait_p95", "first_reply_p50"}


def period_label(report: Report) -> str:
    """Local dates, end inclusive: '2026-03-02 – 2026-03-08'."""
    zone = ZoneInfo(report.timezone)
    first = report.start.astimezone(zone).date()
    last = (report.end.astimezone(zone) - timedelta(microseconds=1)).date()
    return f"{first}" if first == last else f"{first} – {last}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def stats(value: Stats) -> str:
    if not value.count:
        return "—"
    return (f"p50 {secs(value.p50)} · p95 {secs(value.p95)} · max {secs(value.max)} "
            f"(n={value.count})")


def count(value: int | None, words: Words) -> str:
    return label("not_recorded", words) if value is None else str(value)


def render_text(report: Report, words: Words = "zh", *, with_agents: bool = True) -> str:
    """The whole summary in one language; each line one theme of P23. ``words``: the reader's
    staff words (the owner's edited labels) or a language code (the packaged labels)."""
    words = words_of(words)
    L = lambda key, **kw: label(key, words, **kw)  # noqa: E731
    v, b, w, q, a = report.volumes, report.bot, report.waiting, report.quality, report.aftersales
    lines = [f"📊 {L('title')} {period_label(report)} ({report.timezone})", ""]
    lines.append(
        f"{L('volumes')}: {L('conversations')} {v.conversations} · "
        f"{L('shopper_messages')} {v.shopper_messages} · {L('agent_messages')} "
        f"{v.agent_messages} · {L('customers')} {v.customers} "
        f"({L('new')} {v.new_customers}, {L('returning')} {v.returning_customers})"
        + (f" · {L('channels')}: " + ", ".join(
            f"{L('channel_' + name)} {count}" for name, count in sorted(v.by_channel.items()))
           if set(v.by_channel) - {"telegram"} else "")  # shown once another channel is used
    )
    escalations = ", ".join(f"{L('reason_' + k)} {n}" for k, n in b.escalations.items()) or "0"
    lines.append(
        f"{L('bot')}: {L('resolved_share')} {pct(b.resolved_share)} "
        f"({b.resolved_without_human}/{b.conversations}) · {L('faq_hit_rate')} "
        f"{pct(b.faq_hit_rate)} ({b.faq_hits}/{b.faq_questions}) · {L('feedback')} "
        f"{b.feedback_helpful}/{b.feedback_total} · {L('escalations')}: {escalations}"
    )
    if b.unanswered:
        top = "; ".join(f"“{text[:40]}” ×{n}" for text, n in b.unanswered[:5])
        lines.append(f"  {L('unanswered')}: {top}")
    lines.append(
        f"{L('waiting')}: {L('shopper_wait')} {stats(w.shopper_wait)}, {L('no_reply')} "
        f"{w.unanswered_messages} · {L('greeted_share', s=w.greeting_seconds)} "
        f"{pct(w.greeted_share)} ({w.greeted_on_time}/{w.conversations})"
    )
    lines.append(
        f"  {L('sla_breaches')} {count(w.sla_breaches, words)} · {L('holding_replies')} "
        f"{count(w.holding_replies, words)} · {L('reassignments')} "
        f"{count(w.reassignments, words)}"
    )
    lines.append(
        f"  {L('first_reply')} {stats(w.human_first_reply)} · {L('next_reply')} "
        f"{stats(w.human_next_reply)}"
    )
    if q.survey_answers is None:
        satisfaction = label("not_recorded", words)
    else:
        average = "—" if q.satisfaction_avg is None else f"{q.satisfaction_avg:.2f}/5"
        satisfaction = (f"{average}, {L('satisfied_share')} {pct(q.satisfied_share)} "
                        f"(n={q.survey_answers})")
    lines.append(
        f"{L('quality')}: {L('satisfaction')} {satisfaction} · {L('complaints')} "
        f"{q.complaints} · {L('complaint_steps')} {count(q.complaint_steps, words)} · "
        f"{L('tone_guard')} {count(q.tone_guard, words)}"
    )
    if q.bot_survey_answers:
        lines.append(f"  {L('bot_satisfaction')} {q.bot_satisfaction_avg:.2f}/5 "
                     f"(n={q.bot_survey_answers})")
    if q.complaints_by_cause:
        lines.append(f"  {L('complaints_by_cause')}: " + " · ".join(
            f"{cause_label(cause, words.lang)} {n}"
            for cause, n in q.complaints_by_cause.items()))
    if a.tickets_opened is None:
        lines.append(f"{L('aftersales')}: {L('not_recorded')}")
    else:
        lines.append(
            f"{L('aftersales')}: {L('tickets_opened')} {a.tickets_opened} · "
            f"{L('tickets_resolved')} {count(a.tickets_resolved, words)} · "
            + " · ".join(rates_text(a.rates, words) if a.rates else [])
        )
        outcomes = ", ".join(f"{k} {n}" for k, n in a.follow_up_outcomes.items())
        lines.append(
            f"  {L('follow_ups')} {count(a.follow_ups_done, words)}"
            + (f" ({outcomes})" if outcomes else "")
            + f" · {L('late_shipments')} {count(a.late_shipments, words)}"
        )
        if a.follow_up_scores:
            lines.append(f"  {L('follow_up_scores')} (n={a.follow_ups_scored}): " + " · ".join(
                f"{L('fq_' + aspect)} {avg:.1f}/5" for aspect, avg in a.follow_up_scores.items()))
    if report.sales is not None:  # 询单转化率, 催付, recommendations (P5, P6)
        lines += sales_text(report.sales, words)
    if report.duty is not None and (report.duty.checked or report.duty.leaves
                                    or report.duty.fines):
        lines += duty_text(report.duty, {a.agent_id: a.label for a in report.agents}, words)
    if with_agents and report.agents:
        lines += ["", f"{L('agents')}:"]
        lines += [render_agent(agent, words) for agent in report.agents]
    if report.changes:
        lines += ["", f"{L('changes')}:"]
        lines.append(" · ".join(
            _change(c.key, c.now, c.before, words, w.greeting_seconds) for c in report.changes
            if c.now is not None or c.before is not None
        ))
    return "\n".join(lines).rstrip()


def render_agent(agent: AgentSection, words: Words = "zh") -> str:
    """One agent's own line for the weekly meeting (P15)."""
    words = words_of(words)
    L = lambda key: label(key, words)  # noqa: E731
    return (
        f"• {agent.label}: {L('conversations')} {agent.conversations} · {L('messages')} "
        f"{agent.messages} · {L('first_reply')} p50 {secs(agent.first_reply.p50)} · "
        f"{L('next_reply')} p50 {secs(agent.next_reply.p50)} · {L('sla_breaches')} "
        f"{count(agent.sla_breaches, words)} · {L('complaints')} {agent.complaints}"
        + ("" if not agent.complaint_steps
           else f" ({L('complaint_step')} {agent.complaint_steps})")
        + " · "
        f"{L('tone_guard')} {count(agent.tone_guard, words)}"
        + ("" if agent.satisfaction_avg is None
           else f" · {L('satisfaction')} {agent.satisfaction_avg:.2f}")
        + (f"\n  {L('self_report')}: {agent.self_report}" if agent.self_report else "")
    )


def _change(
    key: str, now: float | None, before: float | None, words: Words, greeting_seconds: int
) -> str:
    def show(value: float | None) -> str:
        if key in RATE_KEYS:
            return pct(value)
        if key in SECONDS_KEYS:
            return secs(value)
        if value is None:
            return "—"
        return f"{value:.2f}" if isinstance(value, float) and not value.is_integer() else (
            f"{value:.0f}")

    name = label(key, words, s=greeting_seconds) if key == "greeted_share" else label(key, words)
    return f"{name} {show(before)} → {show(now)}"
