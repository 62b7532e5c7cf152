"""Labels of the report in the shop's two languages (zh first: the seed's own words)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "客服报表", "en": "Customer service report"},
    "volumes": {"zh": "业务量", "en": "Volumes"},
    "conversations": {"zh": "会话", "en": "conversations"},
    "shopper_messages": {"zh": "顾客消息", "en": "shopper messages"},
    "agent_messages": {"zh": "客服消息", "en": "agent messages"},
    "customers": {"zh": "顾客", "en": "customers"},
    "new": {"zh": "新顾客", "en": "new"},
    "returning": {"zh": "老顾客", "en": "returning"},
    "bot": {"zh": "机器人", "en": "The bot"},
    "resolved_share": {"zh": "无需人工解决", "en": "resolved without a person"},
    "faq_hit_rate": {"zh": "FAQ 命中率", "en": "FAQ hit rate"},
    "feedback": {"zh": "答案有帮助", "en": "answers rated helpful"},
    "escalations": {"zh": "转人工原因", "en": "handed to a person"},
    "unanswered": {"zh": "未能回答的问题", "en": "unanswered questions"},
    "waiting": {"zh": "等待", "en": "Waiting"},
    "shopper_wait": {"zh": "顾客等待", "en": "shopper wait"},
    "no_reply": {"zh": "未回复", "en": "without reply"},
    "greeted_share": {"zh": "{s} 秒内问候", "en": "greeted within {s} s"},
    "sla_breaches": {"zh": "超时", "en": "SLA breaches"},
    "holding_replies": {"zh": "安抚回复", "en": "holding replies"},
    "reassignments": {"zh": "转派", "en": "reassignments"},
    "first_reply": {"zh": "人工首次回复", "en": "first human reply"},
    "next_reply": {"zh": "人工后续回复", "en": "next human reply"},
    "quality": {"zh": "服务质量", "en": "Quality"},
    "satisfaction": {"zh": "满意度", "en": "satisfaction"},
    "satisfied_share": {"zh": "4–5 分", "en": "scores 4–5"},
    "complaints": {"zh": "投诉", "en": "complaints"},
    "complaint_steps": {"zh": "投诉处理步骤", "en": "complaint steps"},
    "complaint_step": {"zh": "处罚步骤", "en": "step"},
    "complaints_by_cause": {"zh": "投诉原因", "en": "complaints by cause"},
    "tone_guard": {"zh": "语气提醒", "en": "tone-guard alerts"},
    "aftersales": {"zh": "售后", "en": "After-sales"},
    "tickets_opened": {"zh": "新工单", "en": "tickets opened"},
    "tickets_resolved": {"zh": "已解决", "en": "resolved"},
    "handling_rate": {"zh": "处理率", "en": "handled rate"},
    "on_time_rate": {"zh": "及时率", "en": "on-time rate"},
    "reopen_rate": {"zh": "返修率", "en": "rework rate"},
    "follow_ups": {"zh": "回访", "en": "follow-ups done"},
    "late_shipments": {"zh": "延迟发货", "en": "late shipments"},
    "target": {"zh": "目标", "en": "target"},
    "agents": {"zh": "客服个人", "en": "Agents"},
    "messages": {"zh": "消息", "en": "messages"},
    "changes": {"zh": "与上期相比", "en": "Against the previous period"},
    "not_recorded": {"zh": "尚未记录", "en": "not recorded yet"},
    "wait_p95": {"zh": "顾客等待 p95", "en": "shopper wait p95"},
    "first_reply_p50": {"zh": "人工首次回复 p50", "en": "first human reply p50"},
    "satisfaction_avg": {"zh": "满意度", "en": "satisfaction"},
    # escalation reasons (bot/services/escalation.py)
    "reason_asked": {"zh": "顾客要求", "en": "asked"},
    "reason_complaint": {"zh": "投诉", "en": "complaint"},
    "reason_rejected_answer": {"zh": "答案没帮助", "en": "answer rejected"},
    "reason_not_understood": {"zh": "没听懂", "en": "not understood"},
    "reason_too_long": {"zh": "消息太长", "en": "too long"},
    "reason_media": {"zh": "图片/语音", "en": "media"},
    # charts
    "chart_wait": {"zh": "顾客等待时间分布", "en": "Shopper wait"},
    "chart_hour": {"zh": "按小时的顾客消息", "en": "Shopper messages by hour"},
    "chart_satisfaction": {"zh": "满意度趋势", "en": "Satisfaction trend"},
    "chart_agents": {"zh": "客服对比", "en": "Agents compared"},
    "hour": {"zh": "小时", "en": "hour (shop time)"},
    "count": {"zh": "数量", "en": "count"},
    "seconds": {"zh": "秒", "en": "seconds"},
    "no_data": {"zh": "本期无数据", "en": "no data in this period"},
}


def label(key: str, lang: str, **values: object) -> str:
    text = LABELS.get(key, {}).get(lang) or LABELS.get(key, {}).get("en")
    if text is None:
        return key.removeprefix("reason_")
    return text.format(**values) if values else text
