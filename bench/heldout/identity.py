"""Who the firms are: codes, names, districts, courts, people.

A USCC is built the way the register builds it (GB 32100-2015): registration
authority and kind (``91`` a company, ``92`` an individual business), the
six-digit district code, the nine-character organisation code with its own
GB 11714 check character, then the mod-31 check character of the whole,
which comes from the project's contract module so the feed agrees with the
validator by construction. Firms registered before the 2015 reform keep
their old all-digit organisation codes; newer ones have ``MA…`` codes.

>>> org_code_check("12345678")  # the textbook example: 12345678-8
'8'
>>> from streams.uscc import is_valid_uscc
>>> code = uscc("91", "320583", "MA1MXXX0")
>>> code[:17], is_valid_uscc(code)
('91320583MA1MXXX09', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.uscc import ALPHABET, check_character

__all__ = [
    "District",
    "DISTRICTS",
    "org_code_check",
    "uscc",
    "new_code",
    "company_name",
    "person_name",
    "street_address",
]


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260 county-level code
    name: str  # as it opens a registered name
    court: str  # basic people's court
    court_code: str  # as it appears in case numbers, e.g. (2024)苏0583民初1234号
    weight: float  # share of the portfolio's firms
    industrial: float  # relative share of factories and sites among its firms


DISTRICTS: tuple[District, ...] = (
    District("320583", "昆山", "昆山市人民法院", "苏0583", 0.18, 1.5),
    District("320571", "苏州工业园区", "苏州工业园区人民法院", "苏0591", 0.15, 0.9),
    District("320505", "苏州高新区", "苏州市虎丘区人民法院", "苏0505", 0.10, 1.1),
    District("320506", "苏州市吴中区", "苏州市吴中区人民法院", "苏0506", 0.11, 1.1),
    District("320507", "苏州市相城区", "苏州市相城区人民法院", "苏0507", 0.08, 1.0),
    District("320508", "苏州市姑苏区", "苏州市姑苏区人民法院", "苏0508", 0.08, 0.3),
    District("320509", "苏州市吴江区", "苏州市吴江区人民法院", "苏0509", 0.09, 1.2),
    District("320581", "常熟", "常熟市人民法院", "苏0581", 0.09, 1.3),
    District("320582", "张家港", "张家港市人民法院", "苏0582", 0.07, 1.3),
    District("320585", "太仓", "太仓市人民法院", "苏0585", 0.05, 1.2),
)
INTERMEDIATE_COURT = ("江苏省苏州市中级人民法院", "苏05")

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = [c for c in ALPHABET if c not in "ILOSVZ"]  # letters the organisation-code issuer avoids


def org_code_check(body: str) -> str:
    """GB 11714 check character of an eight-character organisation code body."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc(kind: str, district: str, org_body: str) -> str:
    body = kind + district + org_body + org_code_check(org_body)
    return body + check_character(body)


def new_code(rng: np.random.Generator, kind: str, district: str, registered_year: int, taken: set[str]) -> str:
    """A code no other firm of the portfolio has."""
    while True:
        if registered_year >= 2016:
            tail = "".join(rng.choice(_ORG_BODY, size=5))
            body = "MA" + str(rng.integers(1, 10)) + tail
        elif kind == "92":
            body = "L" + "".join(str(d) for d in rng.integers(0, 10, size=7))
        else:
            body = str(rng.integers(1, 10)) + "".join(str(d) for d in rng.integers(0, 10, size=7))
        code = uscc(kind, district, body)
        if code not in taken:
            taken.add(code)
            return code


_BRAND = list(
    "鑫华盛达泰恒瑞宏源通捷润嘉新博远信诚汇晟锦宸腾翔凯尚德丰利佳美力创联科正和永安康益荣昌隆弘顺伟天东海星辰"
    "金银宝福祥云龙凤阳光明亿万鼎盈兴邦豪越卓航驰骏"
)
_TRADE = {
    "manufacturing": ["精密机械", "电子科技", "塑胶制品", "五金制品", "纺织", "服饰", "包装材料", "新材料科技",
                      "智能装备", "汽车零部件", "光电科技", "金属制品", "家具", "食品", "模具", "环保设备"],
    "building_materials": ["建材", "钢结构", "门窗", "新型建材", "管业", "装饰材料"],
    "construction": ["建设工程", "建筑安装工程", "装饰工程", "市政工程", "钢结构工程", "建筑劳务", "机电安装工程"],
    "retail": ["商贸", "贸易", "超市", "电器", "建材商行", "食品", "服饰", "日用品"],
    "logistics": ["物流", "供应链管理", "运输", "仓储服务", "冷链物流", "货运代理"],
    "catering": ["餐饮管理", "酒店管理", "餐饮", "食品"],
    "software": ["信息技术", "网络科技", "软件", "智能科技", "数据科技", "信息科技"],
    "business_services": ["企业管理咨询", "人力资源", "广告", "会展服务", "商务咨询", "物业管理", "财务咨询"],
    "resident_services": ["家政服务", "汽车维修", "美容美发", "洗涤服务", "保洁服务", "摄影"],
}
_SHOP = {
    "retail": ["便利店", "百货商行", "五金店", "副食品店", "服装店"],
    "catering": ["面馆", "小吃店", "饭店", "烧烤店", "奶茶店"],
    "resident_services": ["理发店", "汽车修理部", "洗衣店", "家电维修部", "足浴店"],
}
_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤"
)
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇婷雪梅琳晨欣怡子轩佳俊辉鹏飞")
_ROADS = ["长江路", "人民路", "干将路", "星湖街", "金鸡湖大道", "苏虹路", "前进路", "黄河路", "太湖西路",
          "东环路", "珠江路", "嵩山路", "华山路", "青阳路", "富士康路", "通园路", "木渎镇金山路", "澄湖路"]


def person_name(rng: np.random.Generator) -> str:
    given = "".join(rng.choice(_GIVEN, size=int(rng.integers(1, 3)), replace=False))
    return str(rng.choice(_SURNAMES)) + given


def company_name(rng: np.random.Generator, district: District, trade_key: str, individual: bool) -> str:
    brand = "".join(rng.choice(_BRAND, size=2))
    if individual:
        shop = _SHOP.get(trade_key, ["经营部"])
        return f"{district.name}{'' if district.name.endswith('区') else '市'}{brand}{rng.choice(shop)}"
    prefix = district.name if rng.random() < 0.6 else "苏州"
    return f"{prefix}{brand}{rng.choice(_TRADE[trade_key])}有限公司"


def street_address(rng: np.random.Generator, district: District) -> str:
    city = "" if district.name.startswith("苏州") else "江苏省" + district.name + "市"
    return f"{city or district.name}{rng.choice(_ROADS)}{int(rng.integers(1, 999))}号"
