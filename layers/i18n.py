"""The interface's one translation table, Chinese and English.

Every text the app or a map layer shows comes from :data:`TEXT` through :func:`t`. Chinese
is complete: tests walk the table and fail on a missing or English-only entry.
"""

from __future__ import annotations

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "app_title": {"zh": "十分钟生活服务圈", "en": "Ten-minute life service circle"},
    "app_caption": {"zh": "步行可达性：每户到各类服务设施的步行时间",
                    "en": "Walking access: minutes from every home to each service"},
    "language": {"zh": "语言", "en": "Language"},
    "study_area": {"zh": "研究区域", "en": "Study area"},
    "default_area": {"zh": "默认：赫尔辛基中心区（OSM 离线数据）",
                     "en": "Default: central Helsinki (offline OSM extract)"},
    "category": {"zh": "服务类别", "en": "Service category"},
    "threshold_mode": {"zh": "步行门槛", "en": "Walk threshold"},
    "mode_minutes": {"zh": "按分钟", "en": "Minutes"},
    "mode_metres": {"zh": "按距离（米）", "en": "Metres"},
    "minutes": {"zh": "步行分钟", "en": "Minutes of walking"},
    "metres": {"zh": "步行距离（米）", "en": "Walking distance (m)"},
    "profile": {"zh": "步行人群", "en": "Walking profile"},
    "profile_adult": {"zh": "成人（80 米/分）", "en": "Adult (80 m/min)"},
    "profile_elderly": {"zh": "老年人（60 米/分）", "en": "Elderly (60 m/min)"},
    "profile_frail": {"zh": "行动不便老人（48 米/分）", "en": "Frail elderly (48 m/min)"},
    "basemap": {"zh": "底图", "en": "Base map"},
    "basemap_osm": {"zh": "OpenStreetMap 在线底图", "en": "OpenStreetMap tiles (online)"},
    "basemap_none": {"zh": "无底图（离线会议室）", "en": "No base map (offline meeting room)"},
    "own_data": {"zh": "自有数据", "en": "Your own data"},
    "upload_facilities": {"zh": "设施图层（GeoPackage / GeoJSON / Shapefile 压缩包）",
                          "en": "Facilities layer (GeoPackage / GeoJSON / zipped Shapefile)"},
    "upload_buildings": {"zh": "住宅建筑图层（可含户数字段 households）",
                         "en": "Residential buildings layer (optional households column)"},
    "declared_crs": {"zh": "坐标系", "en": "Coordinate system"},
    "crs_wgs84": {"zh": "WGS-84 / 文件自带", "en": "WGS-84 / as in the file"},
    "crs_gcj02": {"zh": "GCJ-02（高德、腾讯）", "en": "GCJ-02 (Amap, Tencent)"},
    "crs_bd09": {"zh": "BD-09（百度）", "en": "BD-09 (Baidu)"},
    "crs_cgcs2000": {"zh": "CGCS2000 国家大地坐标系（EPSG:4490）", "en": "CGCS2000 (EPSG:4490)"},
    "loading": {"zh": "正在加载研究区域……", "en": "Loading the study area..."},
    "loaded": {"zh": "研究区域已加载", "en": "Study area loaded"},
    "computing": {"zh": "正在计算步行可达性……", "en": "Computing walking access..."},
    "input_error": {"zh": "输入数据有问题，已保留之前的研究区域：",
                    "en": "There is a problem with the input; the previous study area is kept:"},
    "input_error_short": {"zh": "输入数据无法使用", "en": "The input cannot be used"},
    "share_covered": {"zh": "服务圈内户数占比", "en": "Households inside the circle"},
    "full_circle": {"zh": "全部服务均可达", "en": "All services within reach"},
    "households": {"zh": "户数", "en": "Households"},
    "homes": {"zh": "住宅建筑", "en": "Residential buildings"},
    "left_out": {"zh": "距路网过远未计入的户数", "en": "Households left out (far from streets)"},
    "facilities": {"zh": "设施", "en": "Facilities"},
    "franchise": {"zh": "加盟商家", "en": "Franchise merchant"},
    "candidate_merchant": {"zh": "候选商家", "en": "Candidate merchant"},
    "public_facility": {"zh": "公共设施", "en": "Public facility"},
    "service_circle": {"zh": "服务圈", "en": "Service circle"},
    "walk_time": {"zh": "步行时间", "en": "Walking time"},
    "minutes_unit": {"zh": "分钟", "en": "min"},
    "unreachable": {"zh": "不可达", "en": "Unreachable"},
    "legend_title": {"zh": "到最近{cat}的步行时间", "en": "Walk to the nearest {cat}"},
    "summary_table": {"zh": "各类服务覆盖情况", "en": "Coverage by service"},
    "load_report": {"zh": "数据加载报告", "en": "Data load report"},
    "household_rules": {"zh": "户数估算规则", "en": "How households were counted"},
    "col_category": {"zh": "类别", "en": "Category"},
    "col_threshold_m": {"zh": "门槛（米）", "en": "Threshold (m)"},
    "col_facilities": {"zh": "设施数", "en": "Facilities"},
    "col_households": {"zh": "户数", "en": "Households"},
    "col_covered": {"zh": "覆盖户数", "en": "Households covered"},
    "col_share": {"zh": "覆盖率", "en": "Share covered"},
    "col_left_out": {"zh": "未计入户数", "en": "Left out"},
    "name": {"zh": "名称", "en": "Name"},
    "unnamed": {"zh": "（未命名）", "en": "(unnamed)"},
    "no_facility": {"zh": "该类别在研究区域内没有设施。",
                    "en": "This category has no facility in the study area."},
    "osm_attribution": {"zh": "数据 © OpenStreetMap 贡献者，ODbL 许可",
                        "en": "Data © OpenStreetMap contributors, ODbL"},
}


def t(key: str, lang: str = "zh", *, default: str | None = None, **fmt: object) -> str:
    """Return the text ``key`` in ``lang``, formatted with ``fmt``.

    ``default`` is returned for a key the table lacks (e.g. a walking profile a city
    added to its settings file); without it a missing key raises KeyError.
    """
    if key not in TEXT and default is not None:
        return default
    entry = TEXT[key]
    text = entry.get(lang) or entry["zh"]
    return text.format(**fmt) if fmt else text
