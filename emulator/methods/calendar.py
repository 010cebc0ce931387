"""The calendar's main settings (``calendar.settings.get``, scope ``calendar``).

api-reference/calendar/calendar-settings-get.md: hours as strings ("9", "19"; "9.30" for
half past nine), holidays as "d.mm" joined by commas, days off as two-letter codes. A
portal starts with the documented sample's values; the control API changes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..registry import CallContext, method

if TYPE_CHECKING:
    from ..state import Portal

SAMPLE: dict[str, Any] = {
    "work_time_start": "9",
    "work_time_end": "19",
    "year_holidays": "1.01,2.01,7.01,23.02,8.03,1.05,9.05,12.06,4.11",
    "year_workdays": "31.12",
    "week_holidays": ["SA", "SU"],
    "week_start": "MO",
    "user_name_template": "#NAME# #LAST_NAME#",
    "sync_by_push": False,
    "user_show_login": True,
    "path_to_user": "/company/personal/user/#user_id#/",
    "path_to_user_calendar": "/company/personal/user/#user_id#/calendar/",
    "path_to_group": "/workgroups/group/#group_id#/",
    "path_to_group_calendar": "/workgroups/group/#group_id#/calendar/",
    "path_to_vr": "",
    "path_to_rm": "",
    "rm_iblock_type": "",
    "rm_iblock_id": "",
    "dep_manager_sub": True,
    "denied_superpose_types": [],
    "pathes_for_sites": "",
    "forum_id": "8",
    "rm_for_sites": True,
    "path_to_type_company_calendar": "",
    "path_to_type_location": "",
    "path_to_type_open_event": "",
}
# what an admin may change (the control API refuses other keys)
EDITABLE = ("work_time_start", "work_time_end", "year_holidays", "year_workdays",
            "week_holidays", "week_start")


def settings(portal: Portal) -> dict[str, Any]:
    return {**SAMPLE, **portal.calendar}


def change(portal: Portal, values: dict[str, Any]) -> dict[str, Any]:
    """Set some of EDITABLE, typed as the answer prints them; returns the new settings."""
    for key in EDITABLE:
        if key not in values:
            continue
        value = values[key]
        if key == "week_holidays":
            portal.calendar[key] = [str(v).upper() for v in (value or [])]
        elif isinstance(value, list):
            portal.calendar[key] = ",".join(str(v) for v in value)
        else:
            portal.calendar[key] = str(value)
    return settings(portal)


@method("calendar.settings.get", scope="calendar")
def settings_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return settings(ctx.portal)
