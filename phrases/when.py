"""Days and periods as staff write them, in Chinese or English (/setshift 周一 19:00-23:00,
/report 上周). Pure text rules, no Telegram: the owner's commands normalise their arguments
here, so "周一至周六", "星期天", "mon-sat" and "Monday" all mean the same days."""

from __future__ import annotations

import re
from datetime import date, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CN_DAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_EN_DAY = {name: i for i, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_CN_DAY_WORD = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天七])")
_RANGE = re.compile(r"\s*(?:至|到|~|～|—|–|-)\s*")
_OFF_WORDS = ("休息", "不上班", "关闭", "关门", "无")
_FULL_WIDTH = str.maketrans("：－～０１２３４５６７８９", ":-~0123456789")


def day_line(text: str) -> str:
    """'周一至周六 18:30-24:00' → 'mon-sat 18:30-24:00'; '星期天 休息' → 'sun off';
    '每天 9:30-24:00' → 'mon-sun 9:30-24:00'. English lines pass through (lower-cased)."""
    line = text.strip().translate(_FULL_WIDTH).lower()
    line = line.replace("每天", "mon-sun ").replace("天天", "mon-sun ")
    line = _CN_DAY_WORD.sub(lambda m: f" {DAYS[_CN_DAY[m.group(1)]]} ", line)
    for name, i in _EN_DAY.items():
        line = re.sub(rf"\b{name}\b", DAYS[i], line)
    for word in _OFF_WORDS:
        line = line.replace(word, " off ")
    # A range of days: "mon 至 sat" / "mon - sat" → "mon-sat" (only between day names).
    names = "|".join(DAYS)
    line = re.sub(rf"\b({names})\b{_RANGE.pattern}\b({names})\b", r"\1-\2", line)
    # Times: "19:00 - 23:00" / "19:00到23:00" → "19:00-23:00".
    line = re.sub(r"(\d{1,2}:\d{2})" + _RANGE.pattern + r"(\d{1,2}:\d{2})", r"\1-\2", line)
    return " ".join(line.split())


# A report period by name: zh and en words for the same spans.
PERIOD_WORDS = {
    "今天": "today", "今日": "today", "today": "today",
    "昨天": "yesterday", "昨日": "yesterday", "yesterday": "yesterday",
    "本周": "this_week", "这周": "this_week", "这星期": "this_week", "this week": "this_week",
    "上周": "last_week", "上星期": "last_week", "last week": "last_week",
    "本月": "this_month", "这个月": "this_month", "this month": "this_month",
    "上月": "last_month", "上个月": "last_month", "last month": "last_month",
}


def named_period(text: str, today: date) -> tuple[date, date] | None:
    """First and last local day of a named period ('上周' = last Monday…Sunday), or None.
    'This week/month' ends today; a calendar week starts on Monday."""
    name = PERIOD_WORDS.get(" ".join(text.strip().lower().split()))
    if name is None:
        return None
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if name == "this_week":
        return monday, today
    if name == "last_week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if name == "this_month":
        return first_of_month, today
    last_month_end = first_of_month - timedelta(days=1)
    return last_month_end.replace(day=1), last_month_end
