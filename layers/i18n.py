"""The interface's one translation table, Chinese and English.

Every text the app or a map layer shows comes from :data:`TEXT` through :func:`t`. Chinese
is complete: tests walk the table and fail on a missing or English-only entry.
"""

from __future__ import annotations

from typing import cast

import numpy as np

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
    "crs_auto": {"zh": "文件自带坐标系（含 UTM、CGCS2000 高斯-克吕格投影）",
                 "en": "As in the file (incl. UTM, CGCS2000 Gauss-Krueger)"},
    "crs_wgs84": {"zh": "WGS-84 经纬度", "en": "WGS-84 degrees"},
    "crs_epsg": {"zh": "EPSG 编号……", "en": "EPSG code..."},
    "epsg_code": {"zh": "EPSG 编号（如 4547：CGCS2000 3 度带 114°E）",
                  "en": "EPSG code (e.g. 4547: CGCS2000 3-degree zone, 114 E)"},
    "crs_gcj02": {"zh": "GCJ-02（高德、腾讯）", "en": "GCJ-02 (Amap, Tencent)"},
    "crs_bd09": {"zh": "BD-09（百度）", "en": "BD-09 (Baidu)"},
    "crs_cgcs2000": {"zh": "CGCS2000 国家大地坐标系（EPSG:4490）", "en": "CGCS2000 (EPSG:4490)"},
    "loading": {"zh": "正在加载研究区域……", "en": "Loading the study area..."},
    "loaded": {"zh": "研究区域已加载", "en": "Study area loaded"},
    "computing": {"zh": "正在计算步行可达性……", "en": "Computing walking access..."},
    "circle_drawing": {"zh": "正在绘制服务圈，完成后显示在地图上……",
                       "en": "Drawing the service circle; it appears on the map when ready..."},
    "input_error": {"zh": "输入数据有问题，已保留之前的研究区域：",
                    "en": "There is a problem with the input; the previous study area is kept:"},
    "input_error_short": {"zh": "输入数据无法使用", "en": "The input cannot be used"},
    "share_covered": {"zh": "服务圈内户数占比", "en": "Households inside the circle"},
    "full_circle": {"zh": "全部服务均可达", "en": "All services within reach"},
    "households": {"zh": "户数", "en": "Households"},
    "hh_source": {"zh": "户数来源", "en": "Households from"},
    "upload_limit_help": {"zh": "每个文件最大 {limit} MB；更大的文件浏览器会直接拒绝上传"
                                "（浏览器的提示是英文的）。请先裁剪到街道办范围。",
                          "en": "At most {limit} MB per file; the browser refuses larger files. "
                                "Clip the data to the street office first."},
    "upload_hh_table": {"zh": "街道户数表（CSV / XLSX）",
                        "en": "Street office household table (CSV / XLSX)"},
    "upload_hh_table_help": {"zh": "列：户数，以及名称（楼栋或小区）、osm_id 或 经度/纬度；"
                                   "这些数字优先于一切估算。",
                             "en": "Columns: households, and a name (building or compound), "
                                   "osm_id or lon/lat; these counts win over every estimate."},
    "hh_rows_unmatched": {"zh": "户数表中 {n} 行（共 {total} 行）没有对应到住宅：请核对名称、编号或坐标",
                          "en": "{n} of {total} rows of the household table found no home: "
                                "check their name, id or point"},
    "upload_raster": {"zh": "人口栅格（GeoTIFF）", "en": "Population raster (GeoTIFF)"},
    "upload_raster_help": {"zh": "每个像元的人数（WorldPop、GHS-POP），按建筑面积分配给住宅。",
                           "en": "People per cell (WorldPop, GHS-POP), spread over homes by "
                                 "floor area."},
    "hh_source_mix": {"zh": "户数来源构成（街道提供的数字优先，其次人口栅格、按层数估算、按面积估算）",
                      "en": "Where the household figures come from (given first, then raster, "
                            "floors, area)"},
    "residents": {"zh": "居住人数（集体宿舍）", "en": "Residents (group quarters)"},
    "share_pct": {"zh": "占比 %", "en": "Share %"},
    "hh_src_given": {"zh": "街道提供", "en": "given"},
    "hh_src_raster": {"zh": "人口栅格", "en": "population raster"},
    "hh_src_estimated_from_floors": {"zh": "按面积与层数估算", "en": "estimated from floors"},
    "hh_src_estimated_from_area": {"zh": "按居住区面积估算（无建筑轮廓）",
                                   "en": "estimated from area (no building mapped)"},
    "hh_estimated_area": {"zh": "户数按居住区面积估算", "en": "households estimated from area"},
    "homes": {"zh": "住宅建筑", "en": "Residential buildings"},
    "layer_streets": {"zh": "街道与路名", "en": "Streets and names"},
    "closed_facilities": {"zh": "方案中关闭的设施", "en": "Facilities closed in the scenario"},
    "closed_facility": {"zh": "已关闭的设施", "en": "Closed facility"},
    "no_neighbour_grid": {"zh": "该街区不与同社区的其他网格相邻，无法移动。",
                          "en": "This block touches no other grid of its community; it cannot "
                                "move."},
    "gaps_after_scenario": {"zh": "地图显示方案实施后剩下的缺口：{n} 处（原 {before} 处），共 {hh} 户在圈外。",
                            "en": "The map shows the gaps left after the scenario: {n} (was "
                                  "{before}), {hh} households outside the circle."},
    "households_unit": {"zh": "户", "en": "hh"},
    "selected_block": {"zh": "选中的街区", "en": "Selected block"},
    "block_label": {"zh": "{street}旁 · {id}", "en": "{id} · by {street}"},
    "block_street": {"zh": "沿街", "en": "Along"},
    "move_targets": {"zh": "可移入的相邻网格", "en": "Neighbouring grids it may move into"},
    "grid_click": {"zh": "点击地图", "en": "A click on the map"},
    "grid_click_select": {"zh": "选择街区", "en": "selects a block"},
    "grid_click_move": {"zh": "把选中街区移入所点的网格", "en": "moves the selected block into "
                        "the clicked grid"},
    "help_grid_click": {"zh": "先选“选择街区”点一个街区（黄色高亮），再选“移入”，点虚线框出的相邻网格即可移动；"
                        "每次移动可撤销。",
                        "en": "Choose “selects a block” and click a block (highlighted in "
                        "yellow), then choose “moves” and click one of the dashed neighbouring "
                        "grids; every move can be undone."},
    "own_project": {"zh": "我自己的项目文件（打开、新建、下载）", "en": "My own project file (open, new, download)"},
    "own_project_shared": {"zh": "现在用的是服务器上共用的项目文件 {name}：同一服务器上的其他人也会保存到这里。"
                                 "可以新建或上传一个只属于自己的项目文件。",
                           "en": "Working on the server's shared project file {name}: others on "
                                 "this server save to it too. Start or upload a file of your own."},
    "own_project_mine": {"zh": "现在用的是您自己的项目文件 {name}：只有您会保存到这里；离开前请下载保存。",
                         "en": "Working on your own project file {name}: only you save to it; "
                               "download it before you leave."},
    "download_project": {"zh": "下载项目文件", "en": "Download the project file"},
    "new_own_project": {"zh": "新建自己的项目文件", "en": "Start a project file of my own"},
    "upload_project": {"zh": "打开自己的项目文件（GeoPackage）", "en": "Open a project file of mine (GeoPackage)"},
    "manage_scenarios": {"zh": "打开、重命名或删除方案", "en": "Open, rename or delete a scenario"},
    "open_scenario": {"zh": "打开", "en": "Open"},
    "scenario_opened": {"zh": "已打开方案“{name}”（{n} 个新增站点），可在“缺口与选址”中继续修改。",
                        "en": "Opened \"{name}\" ({n} added stations); edit it further in "
                              "Gaps and siting."},
    "rename_scenario": {"zh": "重命名", "en": "Rename"},
    "delete_scenario": {"zh": "删除", "en": "Delete"},
    "preset_ten_minute_800m": {"zh": "十分钟生活圈承诺 · 800 米",
                               "en": "Ten-minute promise · 800 m"},
    "preset_gb50180_5min_300m": {"zh": "GB 50180 五分钟生活圈 · 300 米",
                                 "en": "GB 50180 5-minute circle · 300 m"},
    "preset_gb50180_10min_500m": {"zh": "GB 50180 十分钟生活圈 · 500 米",
                                  "en": "GB 50180 10-minute circle · 500 m"},
    "preset_gb50180_15min_1000m": {"zh": "GB 50180 十五分钟生活圈 · 1000 米",
                                   "en": "GB 50180 15-minute circle · 1,000 m"},
    "help_view": {"zh": "覆盖情况看各类服务的覆盖率；缺口与选址找圈外住户并选新站点；方案比较看保存的方案；"
                        "社区与网格划分和调整边界；会议报告生成可打印的 PDF。",
                  "en": "Coverage: how many households each service reaches; Gaps and siting: "
                        "who is left out and where new stations help most; Scenarios: saved "
                        "plans; Communities and grids: draw and adjust boundaries; Meeting "
                        "report: a printable PDF."},
    "help_category": {"zh": "地图和数字所指的服务类别；设施来自 OpenStreetMap 或上传的图层。",
                      "en": "The service the map and numbers are about; facilities come from "
                            "OpenStreetMap or your uploaded layer."},
    "help_threshold": {"zh": "按分钟：步行时间 × 人群步速；按距离：沿街道步行的米数（国家标准给出的距离）。",
                       "en": "Minutes: walking time at the profile's speed; metres: the walk "
                             "along the streets (the distances the standards quote)."},
    "help_minutes": {"zh": "十分钟生活圈为 10 分钟；与步行人群的步速相乘得到距离。",
                     "en": "The ten-minute circle is 10; times the profile's speed gives the "
                           "distance."},
    "help_metres": {"zh": "GB 50180-2018 的 5、10、15 分钟生活圈步行距离，及 800 米的十分钟承诺。",
                    "en": "The walking distances of GB 50180-2018's 5-, 10- and 15-minute "
                          "circles, and the 800 m ten-minute promise."},
    "help_profile": {"zh": "成人 80 米/分；老年人 60 米/分；行动不便老人 48 米/分。",
                     "en": "Adult 80 m/min; elderly 60 m/min; frail elderly 48 m/min."},
    "help_gates": {"zh": "封闭小区的住户只能从开放的门出入：白天按白天开放的门，夜间按夜间开放的门。",
                   "en": "Homes in walled compounds leave only through open gates: those open "
                         "by day, or at night."},
    "help_basemap": {"zh": "会议室没有网络时选“无底图”：地图仍画出本区域的街道和路名。",
                     "en": "Without internet choose no base map: the area's own streets and "
                           "names are still drawn."},
    "help_crs": {"zh": "默认用文件自带的坐标系；高德、腾讯坐标选 GCJ-02，百度选 BD-09；"
                       "没有 .prj 的 Shapefile 请选 WGS-84 或填写 EPSG 代码。",
                 "en": "The file's own system by default; Amap and Tencent points are GCJ-02, "
                       "Baidu BD-09; a Shapefile without .prj needs WGS-84 or an EPSG code."},
    "place_placeholder": {"zh": "上海市徐汇区", "en": "Xuhui District, Shanghai"},
    "yes": {"zh": "是", "en": "yes"},
    "whole_area": {"zh": "（全区）", "en": "(whole area)"},
    "no": {"zh": "否", "en": "no"},
    "scenario_add": {"zh": "新增站点", "en": "add a station"},
    "scenario_remove": {"zh": "关闭设施", "en": "close a facility"},
    "scenario_move": {"zh": "移动站点", "en": "move a station"},
    "conclusions": {"zh": "结论", "en": "In brief"},
    "c_share": {"zh": "{cat}：{covered} 户（{share}）在服务圈内，{left} 户在圈外。",
                "en": "{cat}: {covered} households ({share}) are inside the circle, {left} "
                      "outside."},
    "c_sites": {"zh": "新增 {k} 个站点（见编号）可使 {gain} 户进入{cat}服务圈，覆盖率升至 {after}。",
                "en": "{k} new stations (numbered on the map) would bring {gain} households "
                      "inside the {cat} circle ({after} covered)."},
    "c_gap": {"zh": "共 {n} 处缺口；最大的 G{gid} 有 {hh} 户在圈外。",
              "en": "{n} gap areas; the largest, G{gid}, holds {hh} households outside the "
                    "circle."},
    "c_worst": {"zh": "{cat}覆盖最低的社区：{name}（{share}）。",
                "en": "The community with the least {cat} coverage: {name} ({share})."},
    "c_no_data": {"zh": "{cats}：数据中没有设施，覆盖率未知（不是 0），未计入“全部服务均可达”。",
                  "en": "{cats}: no facility in the data, so coverage is unknown (not 0) "
                        "and left out of \"all services within reach\"."},
    "table_cut": {"zh": "{heading}（前 {n} 行，共 {total} 行；完整表见 XLSX 导出）",
                  "en": "{heading} (first {n} of {total} rows; the XLSX export has all)"},
    "page_of": {"zh": "第 {i} 页，共 {n} 页", "en": "Page {i} of {n}"},
    "near_street": {"zh": "附近道路", "en": "Nearest street"},
    "lon": {"zh": "经度", "en": "Longitude"},
    "lat": {"zh": "纬度", "en": "Latitude"},
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
    "no_data": {"zh": "无数据", "en": "no data"},
    "no_data_note": {"zh": "{cats}：研究区数据中没有这类设施，覆盖率未知（不是 0），未计入“全部服务均可达”。请从高德/百度 POI 导出或图层加载设施。",
                     "en": "{cats}: no facility of this kind is in the data, so coverage is unknown (not 0) and left out of “All services within reach”. Load facilities from an Amap / Baidu POI export or a layer."},
    "no_data_short": {"zh": "（不含无设施数据的类别：{cats}）",
                      "en": "(leaves out, no facility data: {cats})"},
    "no_facility": {"zh": "该类别在研究区域内没有设施。",
                    "en": "This category has no facility in the study area."},
    "view": {"zh": "视图", "en": "View"},
    "view_coverage": {"zh": "覆盖情况", "en": "Coverage"},
    "view_gaps": {"zh": "缺口与选址", "en": "Gaps and siting"},
    "gap_areas": {"zh": "服务缺口区域", "en": "Gap areas"},
    "gap_id": {"zh": "缺口编号", "en": "Gap"},
    "households_uncovered": {"zh": "未覆盖户数", "en": "Households not covered"},
    "homes_uncovered": {"zh": "未覆盖住宅", "en": "Homes not covered"},
    "nearest_facility": {"zh": "最近的现有设施", "en": "Nearest existing facility"},
    "nearest_dist": {"zh": "到最近设施（米）", "en": "To nearest facility (m)"},
    "extra_walk": {"zh": "超出门槛的步行时间", "en": "Walk beyond the threshold"},
    "gap_table": {"zh": "缺口排序（按未覆盖户数）", "en": "Gaps ranked by households not covered"},
    "legend_gaps": {"zh": "缺口区域未覆盖户数", "en": "Households not covered per gap"},
    "no_gaps": {"zh": "所有户都在服务圈内，没有缺口。",
                "en": "Every household is inside the circle: no gaps."},
    "proposed_sites": {"zh": "建议新站点", "en": "Proposed sites"},
    "proposed_site": {"zh": "建议站点", "en": "Proposed site"},
    "gain": {"zh": "新增覆盖户数", "en": "Households newly covered"},
    "community": {"zh": "社区", "en": "Community"},
    "grid": {"zh": "网格", "en": "Grid"},
    "k_sites": {"zh": "新站点数量", "en": "Number of new sites"},
    "run_sites": {"zh": "计算选址方案", "en": "Find the best sites"},
    "solving": {"zh": "正在计算选址……", "en": "Choosing sites..."},
    "solved": {"zh": "选址完成", "en": "Sites chosen"},
    "covered_before_after": {"zh": "覆盖户数（现状 → 方案）",
                             "en": "Households covered (now → plan)"},
    "greedy_preview": {"zh": "快速估算", "en": "Quick estimate"},
    "exact_result": {"zh": "最优方案（已证明）", "en": "Best possible, proven"},
    "optimal": {"zh": "已证明最优", "en": "proven optimal"},
    "not_optimal": {"zh": "未证明最优，差距", "en": "not proven optimal, gap"},
    "rank": {"zh": "排名", "en": "Rank"},
    "accept_proposals": {"zh": "把建议站点加入方案", "en": "Add the proposals to the scenario"},
    "scenario": {"zh": "方案", "en": "Scenario"},
    "scenario_name": {"zh": "方案名称", "en": "Scenario name"},
    "scenario_default": {"zh": "新方案", "en": "New scenario"},
    "find_place": {"zh": "定位到", "en": "Go to"},
    "find_place_hint": {"zh": "输入街道、社区或网格名称", "en": "Type a street, community or grid"},
    "help_find_place": {"zh": "输入几个字即可筛选；选中后地图缩放到该处，之后可自由平移缩放。",
                        "en": "Type a few letters to filter; the map zooms to the place "
                        "chosen, and is yours to pan and zoom afterwards."},
    "place_street": {"zh": "街道", "en": "street"},
    "place_community": {"zh": "社区", "en": "community"},
    "place_grid": {"zh": "网格", "en": "grid"},
    "picked_to_move": {"zh": "待移动（请点新位置）", "en": "To be moved (click its new place)"},
    "map_click": {"zh": "点击地图", "en": "A click on the map"},
    "map_click_look": {"zh": "只查看", "en": "only looks"},
    "map_click_add": {"zh": "添加站点", "en": "adds a station"},
    "map_click_move": {"zh": "移动站点或设施", "en": "moves a station or facility"},
    "map_click_close": {"zh": "关闭现有设施", "en": "closes an existing facility"},
    "map_click_delete": {"zh": "删除添加的站点", "en": "deletes an added station"},
    "help_map_click": {"zh": "添加：点街道旁的位置。移动：先点站点或设施，再点新位置。关闭、删除：点设施或"
                       "添加的站点（150 米内）。每次修改立即计入下方方案，可清空或保存。",
                       "en": "Add: click by a street. Move: click a station or facility, then "
                       "its new place. Close, delete: click a facility or an added station "
                       "(within 150 m). Every change enters the scenario below at once; clear "
                       "or save it there."},
    "click_added": {"zh": "已添加站点。", "en": "Station added."},
    "click_deleted": {"zh": "已删除添加的站点“{name}”。", "en": "Added station “{name}” deleted."},
    "click_nothing_added": {"zh": "点击处 {m} 米内没有添加的站点，未做修改。",
                            "en": "No added station within {m} m of the click; nothing "
                            "changed."},
    "click_closed": {"zh": "已关闭设施“{name}”（计入方案；“撤销上一步”可恢复）。",
                     "en": "Facility “{name}” closed (in the scenario; “Undo the last "
                     "change” reopens it)."},
    "undo_change": {"zh": "撤销上一步", "en": "Undo the last change"},
    "click_nothing_facility": {"zh": "点击处 {m} 米内没有该类别的现有设施，未做修改。",
                               "en": "No existing facility of this category within {m} m of "
                               "the click; nothing changed."},
    "click_nothing_to_move": {"zh": "点击处 {m} 米内没有可移动的站点或设施。",
                              "en": "No station or facility within {m} m of the click to "
                              "move."},
    "click_move_picked": {"zh": "已选中“{name}”，请点击它的新位置。",
                          "en": "“{name}” picked: click its new place."},
    "click_moved": {"zh": "已把“{name}”移到新位置。", "en": "“{name}” moved to its new place."},
    "added_stations": {"zh": "方案中新增的站点", "en": "Stations added in the scenario"},
    "added_station": {"zh": "新增站点", "en": "Added station"},
    "last_change": {"zh": "最近一次改动", "en": "Last change"},
    "scenario_effect": {"zh": "方案总效果", "en": "Whole scenario"},
    "gained": {"zh": "新增覆盖", "en": "Newly covered"},
    "lost": {"zh": "失去覆盖", "en": "No longer covered"},
    "save_scenario": {"zh": "保存方案到项目文件", "en": "Save the scenario to the project file"},
    "saved_to": {"zh": "已保存到", "en": "Saved to"},
    "clear_scenario": {"zh": "清空方案", "en": "Clear the scenario"},
    "no_changes": {"zh": "方案中还没有改动：运行选址或点击地图添加站点。",
                   "en": "No changes yet: find sites or click the map to add a station."},
    "compare_scenarios": {"zh": "比较已保存的方案", "en": "Compare saved scenarios"},
    "scenario_current": {"zh": "现状", "en": "Current"},
    "difference": {"zh": "差值（B − A）", "en": "Difference (B − A)"},
    "view_grids": {"zh": "社区与网格", "en": "Communities and grids"},
    "grids": {"zh": "网格", "en": "Grids"},
    "blocks": {"zh": "街区", "en": "Street blocks"},
    "block": {"zh": "街区", "en": "Street block"},
    "communities": {"zh": "社区边界", "en": "Community boundaries"},
    "compactness": {"zh": "紧凑度", "en": "Compactness"},
    "legend_grids": {"zh": "网格划分", "en": "Grids"},
    "legend_grids_text": {"zh": "数字为户数；允许范围 {lo}–{hi} 户",
                          "en": "Numbers are households; allowed {lo}-{hi}"},
    "out_of_range": {"zh": "超出户数范围", "en": "Outside the household range"},
    "grid_target": {"zh": "网格目标户数", "en": "Grid target households"},
    "grid_min": {"zh": "网格最少户数", "en": "Grid minimum"},
    "grid_max": {"zh": "网格最多户数", "en": "Grid maximum"},
    "comm_target": {"zh": "社区目标户数", "en": "Community target households"},
    "generate_grids": {"zh": "生成社区与网格", "en": "Generate communities and grids"},
    "open_project": {"zh": "打开项目文件", "en": "Open the project file"},
    "save_project": {"zh": "保存项目文件", "en": "Save the project file"},
    "no_plan": {"zh": "还没有网格方案：设置户数后点击“生成社区与网格”，或打开项目文件。",
                "en": "No grid plan yet: set the sizes and generate, or open the project."},
    "n_communities": {"zh": "社区数", "en": "Communities"},
    "n_grids": {"zh": "网格数", "en": "Grids"},
    "grids_out_of_range": {"zh": "超出范围的网格", "en": "Grids outside the range"},
    "households_per_grid": {"zh": "各网格户数", "en": "Households per grid"},
    "edit": {"zh": "调整网格", "en": "Edit grids"},
    "move_block": {"zh": "把街区移入相邻网格", "en": "Move a block to a neighbouring grid"},
    "to_grid": {"zh": "移入网格", "en": "Into grid"},
    "move": {"zh": "移动", "en": "Move"},
    "merge": {"zh": "合并网格", "en": "Merge grids"},
    "split": {"zh": "拆分网格", "en": "Split a grid"},
    "rename": {"zh": "重命名", "en": "Rename"},
    "new_name": {"zh": "新名称", "en": "New name"},
    "worker_name": {"zh": "网格员姓名", "en": "Grid worker"},
    "worker_phone": {"zh": "网格员电话", "en": "Phone"},
    "set_worker": {"zh": "设置网格员（仅保存在项目文件中）",
                   "en": "Set the grid worker (kept only in the project file)"},
    "undo": {"zh": "撤销", "en": "Undo"},
    "redo": {"zh": "重做", "en": "Redo"},
    "exports": {"zh": "导出", "en": "Export"},
    "with_workers": {"zh": "表格包含网格员信息", "en": "Include grid workers in the table"},
    "download_gpkg": {"zh": "下载 GeoPackage", "en": "Download GeoPackage"},
    "download_geojson": {"zh": "下载 GeoJSON", "en": "Download GeoJSON"},
    "download_shp": {"zh": "下载 Shapefile（zip）", "en": "Download Shapefile (zip)"},
    "download_xlsx": {"zh": "下载网格表（XLSX）", "en": "Download the grid table (XLSX)"},
    "edit_history": {"zh": "修改记录", "en": "Edit history"},
    "block_notes": {"zh": "街区说明", "en": "Notes on the blocks"},
    "north": {"zh": "北", "en": "N"},
    "headline": {"zh": "服务圈内户数占比", "en": "Households inside the circle"},
    "table_per_community": {"zh": "各社区覆盖情况", "en": "Coverage per community"},
    "view_report": {"zh": "会议报告", "en": "Meeting report"},
    "make_report": {"zh": "生成会议报告", "en": "Make the meeting report"},
    "download_pdf": {"zh": "下载 PDF 报告", "en": "Download the PDF report"},
    "download_png": {"zh": "下载地图 PNG", "en": "Download the map (PNG)"},
    "download_html": {"zh": "下载离线 HTML 地图", "en": "Download the offline HTML map"},
    "download_layers": {"zh": "下载全部图层（GeoPackage）",
                        "en": "Download all layers (GeoPackage)"},
    "download_csv": {"zh": "下载覆盖表（CSV）", "en": "Download the coverage table (CSV)"},
    "download_table_xlsx": {"zh": "下载覆盖表（XLSX）",
                            "en": "Download the coverage table (XLSX)"},
    "report_note": {"zh": "报告包含覆盖地图（图例、比例尺、指北针）、主要数字、各社区表格、"
                          "缺口清单和建议站点。",
                    "en": "The report holds the coverage map (legend, scale bar, north "
                          "arrow), the headline numbers, a table per community, the gap "
                          "list and proposed sites."},
    "upload_area": {"zh": "另一个研究区域（.osm.pbf / .osm / .osm.bz2，或含 streets 道路图层的 GeoPackage）",
                    "en": "Another study area (.osm.pbf / .osm / .osm.bz2, or a GeoPackage with a streets layer)"},
    "place_name": {"zh": "或在线地名（需联网）", "en": "Or a place name online (needs internet)"},
    "load_place": {"zh": "在线加载", "en": "Load online"},
    "too_large": {"zh": "{name} 有 {size} MB，超过上限 {limit} MB：请裁剪到街道办范围后再上传。",
                  "en": "{name} is {size} MB, above the {limit} MB limit: clip it to the "
                        "street office's area and upload again."},
    "table_per_grid": {"zh": "各网格覆盖情况", "en": "Coverage per grid"},
    "view_scenarios": {"zh": "方案比较", "en": "Scenarios"},
    "no_scenarios": {"zh": "还没有保存的方案：在“缺口与选址”中建立并保存。",
                     "en": "No saved scenarios yet: build and save one in Gaps and siting."},
    "change": {"zh": "改动", "en": "Change"},
    "households_in_circle": {"zh": "服务圈内户数", "en": "Households inside its circle"},
    "error_empty": {"zh": "文件或图层没有可用的数据。",
                    "en": "The file or layer has no usable data."},
    "error_input": {"zh": "文件无法按要求使用，请按下方说明修改后重新上传。",
                    "en": "The file cannot be used as it is; fix it as described below."},
    "error_crs": {"zh": "坐标系不一致。", "en": "The coordinate systems do not match."},
    "error_unreachable": {"zh": "设施或候选点不在路网附近（可能是坐标系未声明，如高德 GCJ-02）。",
                          "en": "Facilities or candidates lie far from the streets (an "
                                "undeclared coordinate system such as GCJ-02?)."},
    "error_settings": {"zh": "设置文件有误。", "en": "The settings file has an error."},
    "error_busy": {"zh": "暂未保存：", "en": "Not saved yet:"},
    "error_other": {"zh": "无法完成这一步。", "en": "This step could not be done."},
    "error_station_place": {"zh": "这里不能放站点，未加入方案。", "en": "No station can go here; it was not added to the scenario."},
    "item": {"zh": "项目", "en": "Item"},
    "set": {"zh": "设置", "en": "Set"},
    "value": {"zh": "数值", "en": "Value"},
    "rule": {"zh": "规则", "en": "Rule"},
    "col_buildings": {"zh": "建筑数", "en": "Buildings"},
    "residential": {"zh": "计为住宅", "en": "Counted as homes"},
    "time": {"zh": "时间", "en": "Time"},
    "action": {"zh": "操作", "en": "Action"},
    "detail": {"zh": "内容", "en": "Detail"},
    "action_generate": {"zh": "生成", "en": "generate"},
    "action_move": {"zh": "移动街区", "en": "move"},
    "action_merge": {"zh": "合并", "en": "merge"},
    "action_split": {"zh": "拆分", "en": "split"},
    "action_rename": {"zh": "重命名", "en": "rename"},
    "action_worker": {"zh": "设置网格员", "en": "grid worker"},
    "action_undo": {"zh": "撤销", "en": "undo"},
    "action_redo": {"zh": "重做", "en": "redo"},
    "poi_not_used": {"zh": "POI 导出中有 {n} 行未使用（点开查看原因）",
                     "en": "{n} rows of the POI export were not used (open for the reasons)"},
    "standards": {"zh": "生活圈配套标准核查", "en": "Life-circle standards check"},
    "zone_kind": {"zh": "范围", "en": "Zone kind"},
    "rules_required": {"zh": "应配类型数", "en": "Types required"},
    "rules_passed": {"zh": "达标类型数", "en": "Types passed"},
    "attainment": {"zh": "配套达标率", "en": "Attainment rate"},
    "shortfall": {"zh": "补短板清单（按未覆盖户数排序）", "en": "Shortfall list (by households not reached)"},
    "level": {"zh": "生活圈层级", "en": "Circle level"},
    "facility_type": {"zh": "设施类型", "en": "Facility type"},
    "households_not_reached": {"zh": "未覆盖户数", "en": "Households not reached"},
    "download_standards": {"zh": "下载标准核查表（XLSX）", "en": "Download the standards check (XLSX)"},
    "zone_area": {"zh": "全区域", "en": "Whole area"},
    "zone_community": {"zh": "社区", "en": "Community"},
    "zone_grid": {"zh": "网格", "en": "Grid"},
    "gates": {"zh": "小区门禁", "en": "Compound gates"},
    "gates_off": {"zh": "不考虑", "en": "Ignore"},
    "gates_day": {"zh": "白天", "en": "Day"},
    "gates_night": {"zh": "夜间", "en": "Night"},
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


#: Chinese templates of the messages that gis/ raises or returns (keyed by the ``key`` of
#: a GisError or a Msg); English is the message's own text.
MESSAGES_ZH: dict[str, str] = {
    "file_not_found": "{where}：找不到文件，请检查路径。",
    "file_empty": "{where}：文件是空的，请重新导出该图层。",
    "not_gis_layer": "{where}：无法作为 GIS 图层读取（{detail}）。请另存为 GeoPackage（.gpkg）、"
                     "GeoJSON（.geojson）或 Shapefile 压缩包（.zip）。",
    "layer_no_features": "{where}：图层中没有要素，请选择有数据的图层。",
    "layer_empty_geometries": "{where}：所有要素的几何都是空的，请重新导出该图层。",
    "layer_problems": "{where}：图层有以下问题：{items}。",
    "p_geometry_type": "图层中是 {found} 几何，而这里需要 {need}",
    "p_shifted_projected": "声明为 {declared}，但文件的坐标系是投影坐标（{crs}）；"
                           "GCJ-02/BD-09 应为经纬度",
    "p_unknown_crs": "无法识别声明的坐标系 {declared}；请使用 wgs84、gcj02（高德、腾讯）、"
                     "bd09（百度）、cgcs2000 或 EPSG:编号",
    "p_crs_conflict": "声明为 {declared}，但文件写的是 {crs}；请去掉声明或修正文件",
    "p_no_crs": "没有坐标系（缺少 .prj 或文件中未写明）；请声明坐标系：wgs84、gcj02（高德、腾讯）、"
                "bd09（百度）、cgcs2000 或 EPSG:编号",
    "p_not_degrees": "坐标 {box} 不是经纬度；请以 EPSG:编号 声明其投影坐标系",
    "bad_zip": "{where}：不是有效的 zip 文件，请重新压缩 Shapefile 的各个文件。",
    "zip_no_shp": "{where}：压缩包中没有 .shp 文件；请把 .shp、.shx、.dbf 和 .prj 一起压缩。",
    "no_category_column": "{where}：没有“{column}”字段，无法把设施对应到服务类别。现有字段：{columns}。"
                          "请添加“{column}”字段，取值为：{known}。",
    "households_not_numbers": "{where}：households（户数）字段中没有数字；请填写户数，"
                              "或删除该字段以自动估算。",
    "no_homes": "{where}：研究区域中没有住宅建筑，无从计算覆盖；请提供含住宅的建筑图层（--buildings）或换一个区域。",
    "homes_far": "{where}：{n} 栋住宅都不在步行路网 {limit} 米以内（中位距离 {km} 公里）；请检查建筑图层是否覆盖研究区域及其坐标系，或放宽 --snap-max。",
    "no_facilities": "{where}：数据中没有任何类别的设施，各项覆盖率都无法得出；请用 --facilities 加载设施（图层或高德/百度 POI 导出）。",
    "facilities_far_all": "{where}：{n} 个设施都不在步行路网 {limit} 米以内；请检查坐标系（高德、腾讯坐标请声明 gcj02），或放宽 --snap-max。",
    "hh_table_unreadable": "{where}：无法作为户数表读取；请另存为带表头的 CSV（UTF-8）或 XLSX。",
    "hh_table_columns": "{where}：户数表需要户数列（households / 户数）以及名称（名称 / 小区名称）、"
                        "编号（osm_id）或坐标（经度、纬度）之一。",
    "raster_unreadable": "{where}：无法作为人口栅格读取；请提供每个像元人数的 GeoTIFF"
                         "（如 WorldPop、GHS-POP）。",
    "raster_no_crs": "{where}：栅格没有坐标系；请带坐标系保存（WorldPop 为 EPSG:4326）。",
    "area_not_found": "{where}：找不到研究区域文件，请检查路径或选择其他研究区域。",
    "area_empty": "{where}：文件是空的，请重新从 OpenStreetMap 导出该区域。",
    "bad_pbf": "{where}：无法作为 OpenStreetMap .osm.pbf 文件读取，文件可能损坏或不完整；"
               "请重新下载或导出。",
    "area_no_streets": "{where}：文件中没有可步行的道路；请选择覆盖建成区的文件。",
    "bad_xml": "{where}：无法作为 OpenStreetMap XML 读取；请重新导出（.osm 或 .osm.bz2）。",
    "download_failed": "{where}：无法从 OpenStreetMap 下载。请检查网络和地名，或改用本地 "
                       ".osm.pbf / .osm 文件。",
    "area_unknown_type": "{where}：无法识别的文件类型；研究区域须为 .osm.pbf、.osm、.osm.bz2 "
                         "或地名（自有图层请作为设施或建筑上传）。",
    "facilities_far": "{where}：{n} 个设施都不在研究区域路网 {limit} 米以内（中位距离 {km} 公里）。"
                      "请确认图层覆盖本区域；若坐标来自高德或腾讯请声明 gcj02，来自百度请声明 bd09。",
    "unknown_categories": "{where}：有 {n} 个设施的类别无法识别：{listing}。可用类别：{known}"
                          "（或在 data/settings.toml 中添加该类别）。",
    "k_too_large": "要求 {k} 个新站点，但只有 {n} 个候选点；请减少站点数或增加候选点。",
    "k_too_small": "新站点数量至少为 1，当前为 {k}。",
    "capacity_not_positive": "每个站点的服务能力（可服务户数）必须大于 0。",
    "target_unreachable": "达到目标还需新增覆盖 {needed} 户，但全部候选点合计只能覆盖 {reach} 户；"
                          "请降低目标比例或增加候选点。",
    "nothing_to_site": "没有接入路网的未覆盖住宅，无需选址。",
    "no_gap": "所有户都已在“{category}”服务圈内，无需新站点。",
    "candidates_far": "{n} 个候选点都不在路网 {limit} 米以内；请检查候选点的范围和坐标系"
                      "（高德、腾讯坐标请声明 gcj02，百度请声明 bd09）。",
    "candidates_reach_nothing": "没有候选点能在 {limit} 米内到达未覆盖的住宅；请在缺口附近增加候选点。",
    "point_far": "该点距步行路网 {dist} 米（上限 {limit} 米）；请放在街道旁。",
    "point_invalid": "该点没有有效坐标，请在地图上重新点击。",
    "bad_bbox": "范围 {bbox} 不是“西,南,东,北”的经纬度（如 14.40,35.85,14.55,35.95）；请给出四个数，且西 < 东、南 < 北。",
    "bbox_empty": "{where}：范围 {bbox} 内没有可步行的街道；请检查范围坐标（西,南,东,北，单位为度）。",
    "bad_project": "{where}：无法作为项目文件（GeoPackage）打开，文件可能已损坏；"
                   "请打开之前的副本或重新生成。",
    "not_a_project": "{where}：不是本工具保存的网格项目文件。",
    "no_block_streets": "研究区域内没有可围合街区的道路类型，无法生成街区。",
    "no_blocks": "道路没有围合出任何街区；请加载道路连通的区域。",
    "blocks_no_households": "街区中没有住户，无法划分网格。",
    "empty_communities": "以下社区内没有住宅建筑：{names}。请检查社区图层（范围、坐标系）或删除这些社区。",
    "bad_grid_sizes": "网格户数设置不合理：需满足 0 < 最少户数 {lo} ≤ 目标户数 {target} ≤ 最多户数 "
                      "{hi}，且社区目标户数 {community} 不小于网格目标户数。",
    "out_of_range": "{grid} 现有 {n} 户，超出允许范围 {lo}–{hi}",
    "refuse_cross_community": "已拒绝：街区 {blocks} 不属于 {grid} 所在社区；网格不能跨越社区边界。",
    "refuse_not_touching": "已拒绝：{grid} 将不再连成一片；只能移动沿街道与其相邻的街区。",
    "refuse_breaks_grid": "已拒绝：{grid} 将被分割成几块；请从边缘移动街区，或把将被切断的部分一起移动。",
    "grid_emptied": "{grid} 已没有街区，已删除",
    "moved": "已把 {blocks} 移入 {grid}",
    "refuse_same_grid": "已拒绝：请选择两个不同的网格进行合并。",
    "refuse_two_communities": "已拒绝：两个网格属于不同社区。",
    "refuse_merge_apart": "已拒绝：{a} 与 {b} 不相邻。",
    "merged": "已把 {a} 并入 {b}",
    "refuse_single_block": "已拒绝：{grid} 只有一个街区，无法沿街道拆分。",
    "refuse_no_split": "已拒绝：{grid} 无法拆成两个相连的部分。",
    "refuse_empty_split": "已拒绝：{grid} 拆成两个相连部分时总有一部分没有住户，不能成为网格。",
    "split_done": "已把 {grid} 拆分为 {a} 和 {b}",
    "refuse_no_name": "已拒绝：网格需要名称。",
    "refuse_name_taken": "已拒绝：已有网格名为 {name}。",
    "renamed": "已把 {old} 改名为 {new}",
    "worker_set": "已设置 {grid} 的网格员",
}


def percent(share: float, lang: str = "zh") -> str:
    """Return a share as "12.3 %", or "no data" in ``lang`` when it is unknown (NaN)."""
    if share is None or not np.isfinite(share):
        return t("no_data", lang)
    return f"{share * 100:.1f} %"


def translate_message(text: str, key: str | None, params: dict[str, object] | None,
                      lang: str) -> str:
    """Return a gis message in ``lang``: its Chinese template, or the English text itself."""
    if lang != "zh" or not key or key not in MESSAGES_ZH:
        return text
    values = dict(params or {})
    if key == "layer_problems":
        items = cast("list[tuple[str, dict[str, object]]]", values.get("items", []))
        values["items"] = "；".join(translate_message("", k, p, lang) for k, p in items)
    try:
        return MESSAGES_ZH[key].format(**values)
    except (KeyError, IndexError):
        return text

MESSAGES_ZH.update({
    "note_nearest_block": "{n} 座住宅的中心点落在道路上或街区之外，已归入最近的街区",
    "note_one_building": "街区 {block}（{n} 户）只有一栋楼，无法拆分；其所在网格将超过上限",
    "note_split": "街区 {block}（{n} 户）已按楼栋拆分为 {parts} 部分（各 {sizes} 户）：沿街区长轴把楼栋"
                  "分成户数相等的几组，每部分为其楼栋中心点在街区内的泰森多边形",
    "r_nodes": "保留的路网节点", "r_edges": "保留的路段", "r_pieces": "原始路网的连通片数",
    "r_dropped": "删除的路网节点（街道总长不足 {min_km} 公里的连通片）",
    "r_pieces_kept": "保留的路网连通片（各自分析）",
    "r_pieces_homes": "有住宅的连通片", "piece_no_facility": "连通片 {piece}（{km} 公里街道，{households} 户）内没有任何设施：这些住户只能在本片内步行，均未覆盖。", "r_buildings": "建筑", "r_homes": "住宅建筑",
    "r_households": "户数", "r_households_group": "其中集体宿舍折算户数（居住人数 ÷ 户均人数）",
    "r_residents_group": "集体宿舍居住人数", "r_hh_given": "户数：街道提供",
    "r_empty_areas": "无建筑轮廓的居住区（按面积估算户数）",
    "r_hh_raster": "户数：人口栅格推算",
    "r_hh_estimated_from_floors": "户数：按建筑面积与层数估算",
    "r_hh_estimated_from_area": "户数：无建筑轮廓的居住区按面积估算（估算值）",
    "r_homes_far": "距路网超过 {limit} 米的住宅（未计入）",
    "r_households_far": "未计入住宅中的户数", "r_facilities": "设施",
    "r_facilities_far": "距路网超过 {limit} 米的设施（未计入）",
    # Household rules (gis.data.households) and grid flags.
    "given": "图层给定户数", "residential type": "住宅类建筑",
    "generic in residential landuse": "居住用地内的一般建筑",
    "generic, no other use": "无其他用途标记的一般建筑",
    "non-residential tag": "带有非居住用途标记", "non-residential type": "非住宅类建筑",
    "generic in non-residential landuse": "非居住用地内的一般建筑",
    "generic, too small": "面积过小的一般建筑（棚屋、亭）",
    "name: home": "名称表明是住宅", "name: not a home": "名称表明不是住宅",
    "generic in non-residential area": "校园、医院、机关等范围内的一般建筑",
    "group quarters": "集体宿舍（按居住人数折算户数）",
    "residential area without buildings": "无建筑轮廓的居住区（按面积估算）",
    "street office table": "街道户数表", "population raster": "人口栅格",
    "above range": "超过上限", "below range": "低于下限", "split": "建议拆分",
    "merge": "建议合并",
})

MESSAGES_ZH.update({
    "bad_mapping": "{where}：无法读取 POI 类型对应表，请修正或恢复该文件。",
    "mapping_unknown_category": "{where}：对应规则中有未知的服务类别 {names}。",
    "csv_encoding": "{where}：CSV 既不是 UTF-8 也不是 GB18030 编码，请另存为 UTF-8。",
    "bad_json": "{where}：不是有效的 JSON，请重新导出搜索结果。",
    "not_poi_export": "{where}：不是高德或百度的 POI 导出文件（没有 pois 或 results 列表），请重新导出。",
    "poi_nothing_usable": "{where}：全部 {n} 行都无法使用（缺少坐标、坐标不在中国范围内或类型无法对应）；"
                          "请在 data/poi_mapping.toml 中补充类型或修正坐标。",
})

MESSAGES_ZH.update({
    "looks_gcj02": "{where}：这些点距街道的中位距离为 {given} 米，若按 GCJ-02 换算则为 {converted} 米，"
                   "看起来是高德或腾讯坐标。请将该图层声明为 gcj02（百度坐标声明为 bd09）。",
})

MESSAGES_ZH.update({
    "bad_standards": "{where}：无法读取标准文件，请按提示修正相应行。",
    "standards_problems": "{where}：标准文件有误：{problems}。",
    "standards_need_categories": "覆盖分析未包含标准所需的类别 {names}；请对全部类别进行分析。",
})

MESSAGES_ZH.update({
    "r_compounds": "识别出的封闭小区（围墙或围栏内的居住用地）",
    "r_gates": "封闭小区的出入口",
})

MESSAGES_ZH.update({
    "gpkg_no_streets": "{where}：图层 {layers} 中没有道路图层（名为 streets 或 roads）；请把步行路网作为名为 streets 的线图层加入。",
})

MESSAGES_ZH.update({
    "bomb": "{where}：已拒绝。文件从 {packed} 解压后超过 {size}（上限 {limit} MB，且不得超过压缩大小的"
            "若干倍，见 data/settings.toml 的 [limits]）。真实的街道办或区县数据远小于此；请重新导出，"
            "或把区域分成几块。",
    "bad_archive": "{where}：压缩文件损坏或不完整，请重新下载或导出。",
    "xml_too_deep": "{where}：已拒绝。XML 元素嵌套超过 {limit} 层（OpenStreetMap XML 只有 3 层）；"
                    "请重新从 OpenStreetMap 导出。",
    "xml_too_many": "{where}：已拒绝。XML 元素超过 {limit} 个；这么大的区域请使用 .osm.pbf，或分成几块。",
    "xml_entities": "{where}：已拒绝。文件声明了 XML 实体，OpenStreetMap 文件不会这样做；请重新导出。",
    "too_many_features": "{where}：已拒绝。图层或表格有 {count} 个要素（行），超过上限 {limit}"
                         "（data/settings.toml 的 [limits] max_features）；请先裁剪到研究区域。",
    "too_many_vertices": "{where}：已拒绝。几何共有 {count} 个坐标点，超过上限 {limit}"
                         "（[limits] max_vertices）；请先简化或裁剪图层。",
})

MESSAGES_ZH.update({
    "r_dropped_empty": "没有几何的要素（已剔除）",
    "r_dropped_coordinates": "坐标不是经度 -180..180、纬度 -90..90 的要素（已剔除）",
    "r_dropped_outside": "超出文件范围的要素（已剔除）",
    "r_dropped_duplicates": "重复读入的要素（OSM 编号与形状相同，已剔除）",
    "r_layer_dropped": "建筑图层中没有可用几何的要素（已剔除）",
    "r_table_no_figure": "户数表中没有户数的行（未使用）",
    "r_table_implausible": "户数表中户数不可能的行（未使用）",
    "r_check_levels": "建筑：层数超过上限（改用默认层数）",
    "r_check_given": "建筑：户数超过上限或为负（改为估算）",
    "r_check_capped": "建筑：估算户数超过每栋上限（按上限计）",
})

MESSAGES_ZH.update({
    "save_busy": "{where}：其他人正在保存这个项目，您的内容没有丢失；请稍后再试。",
    "scenario_name_taken": "{where}：已有名为“{name}”的方案，请换一个名称。",
})

MESSAGES_ZH.update({
    "unreadable": "{where}：文件无法按要求读取（{detail}）；请确认文件类型正确，或重新导出后再试。",
})


#: Progress messages of gis/ (English) and their Chinese forms: (pattern, template).
PROGRESS_ZH: tuple[tuple[str, str], ...] = (
    (r"reading buildings from (.+)", "读取建筑：{0}"),
    (r"reading facilities from (.+)", "读取设施：{0}"),
    (r"reading streets from (.+)", "读取道路：{0}"),
    (r"projecting to (.+)", "投影到 {0}"),
    (r"building the walking network", "构建步行路网"),
    (r"estimating households of (\d+) residential areas without buildings",
     "按面积估算 {0} 个无建筑居住区的户数"),
    (r"estimating households", "估算户数"),
    (r"finding walled compounds and their gates", "识别封闭小区及其出入口"),
    (r"attaching homes to the network", "将住宅接入路网"),
    (r"checking the file", "检查文件"),
    (r"reading walkable streets", "读取可步行道路"),
    (r"reading buildings, points of interest and landuse", "读取建筑、兴趣点和用地"),
    (r"reading buildings", "读取建筑"),
    (r"reading points of interest", "读取兴趣点"),
    (r"reading landuse", "读取用地"),
    (r"reading walls, fences and gates", "读取围墙、围栏和出入口"),
    (r"downloading walkable streets", "下载可步行道路"),
    (r"downloading buildings and points of interest", "下载建筑和兴趣点"),
    (r"joining households from (.+)", "匹配户数表：{0}"),
    (r"spreading people from (.+)", "分配人口栅格：{0}"),
    (r"attaching (\d+) facilities to the network", "将 {0} 个设施接入路网"),
    (r"searching walking distances to (\S+) \((\d+) facilities\)",
     "计算到{0}的步行距离（{1} 个设施）"),
    (r"drawing the service circles of (\d+) facilities in (\d+) categories",
     "绘制 {1} 类、{0} 个设施的服务圈"),
    (r"walking distances from (\d+) candidate sites", "计算 {0} 个候选点的步行距离"),
    (r"finding uncovered homes", "查找服务圈外的住宅"),
    (r"choosing candidate sites near the gaps", "在缺口附近选择候选点"),
    (r"building the coverage matrix \((\d+) homes x (\d+) candidates\)",
     "建立覆盖矩阵（{0} 栋住宅 × {1} 个候选点）"),
    (r"solving the set-covering model", "求解最少站点模型"),
    (r"greedy: (\d+) households; solving exactly", "快速估算：{0} 户；正在求最优方案"),
    (r"checking the proposal with the coverage engine", "用覆盖计算复核方案"),
)


def progress_text(message: str, lang: str, names: dict[str, str] | None = None) -> str:
    """Return a gis progress message in ``lang`` (category ids named by ``names``)."""
    if lang != "zh":
        return message
    import re

    for pattern, template in PROGRESS_ZH:
        m = re.fullmatch(pattern, str(message))
        if m:
            groups = [names.get(g, g) if names else g for g in m.groups()]
            return template.format(*groups)
    return str(message)


def zone_label(name: object, lang: str) -> str:
    """Return a zone name for display: "(whole area)" in the user's language."""
    from gis.zones import WHOLE_AREA

    return t("whole_area", lang) if str(name) == WHOLE_AREA else str(name)

MESSAGES_ZH.update({"undone": "已撤销上一步修改。", "redone": "已重做被撤销的修改。"})
