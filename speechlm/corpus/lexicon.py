"""Word lists of the embedded corpus's grammar, each English entry with its Chinese.

Data only: :mod:`speechlm.corpus.grammar` and :mod:`speechlm.corpus.scenes`
combine these into sentences. All English is lower case, words separated by
single spaces, no punctuation, so that every written word is one spoken word.
"""

from __future__ import annotations

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DIGITS_ZH = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]

_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"]
_TEENS += ["nineteen"]
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}


def number_en(n: int) -> str:
    """English words for 0 <= n < 100 (``42 -> "forty two"``)."""
    if not 0 <= n < 100:
        raise ValueError(f"number_en handles 0..99, got {n}")
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, ones = divmod(n, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]} {DIGITS[ones]}"


def number_zh(n: int) -> str:
    """Chinese numerals for 0 <= n < 100 (``42 -> "四十二"``)."""
    if not 0 <= n < 100:
        raise ValueError(f"number_zh handles 0..99, got {n}")
    if n < 10:
        return DIGITS_ZH[n]
    tens, ones = divmod(n, 10)
    head = "十" if tens == 1 else DIGITS_ZH[tens] + "十"
    return head if ones == 0 else head + DIGITS_ZH[ones]


ROOMS = {
    "kitchen": "厨房",
    "bedroom": "卧室",
    "living room": "客厅",
    "bathroom": "浴室",
    "office": "办公室",
    "hallway": "走廊",
    "garage": "车库",
    "dining room": "餐厅",
    "basement": "地下室",
    "guest room": "客房",
}

# action -> (devices it applies to, English phrasings, Chinese template).
# ``{d}`` is the device phrase (with the room as a modifier when given).
SWITCH_DEVICES = {
    "lights": "灯",
    "lamp": "台灯",
    "heating": "暖气",
    "fan": "风扇",
    "music": "音乐",
    "television": "电视",
    "radio": "收音机",
    "air conditioner": "空调",
    "dishwasher": "洗碗机",
    "washing machine": "洗衣机",
    "oven": "烤箱",
    "coffee machine": "咖啡机",
    "computer": "电脑",
}
LEVEL_DEVICES = {"heating": "暖气", "volume": "音量", "temperature": "温度", "lights": "灯光", "fan": "风扇"}
OPEN_DEVICES = {
    "blinds": "百叶窗",
    "curtains": "窗帘",
    "window": "窗户",
    "door": "门",
    "garage door": "车库门",
}
LOCK_DEVICES = {"door": "门", "front door": "前门", "back door": "后门", "window": "窗户", "gate": "大门"}

COMMAND_ACTIONS = {
    "activate": (
        SWITCH_DEVICES,
        ["turn on the {d}", "switch on the {d}", "please turn on the {d}", "can you switch on the {d}"],
        "打开{r}{d}",
    ),
    "deactivate": (
        SWITCH_DEVICES,
        ["turn off the {d}", "switch off the {d}", "please switch off the {d}", "shut off the {d}"],
        "关掉{r}{d}",
    ),
    "increase": (
        LEVEL_DEVICES,
        ["turn up the {d}", "increase the {d}", "raise the {d}", "please turn up the {d}"],
        "调高{r}{d}",
    ),
    "decrease": (
        LEVEL_DEVICES,
        ["turn down the {d}", "decrease the {d}", "lower the {d}", "please turn down the {d}"],
        "调低{r}{d}",
    ),
    "open": (OPEN_DEVICES, ["open the {d}", "please open the {d}", "can you open the {d}"], "打开{r}{d}"),
    "close": (OPEN_DEVICES, ["close the {d}", "please close the {d}", "shut the {d}"], "关上{r}{d}"),
    "lock": (
        LOCK_DEVICES,
        ["lock the {d}", "please lock the {d}", "make sure to lock the {d}"],
        "锁上{r}{d}",
    ),
    "unlock": (LOCK_DEVICES, ["unlock the {d}", "please unlock the {d}"], "解锁{r}{d}"),
}

SUBJECTS = {
    "the movie": "这部电影",
    "the film": "这部影片",
    "the food": "饭菜",
    "the service": "服务",
    "the hotel room": "酒店房间",
    "the concert": "音乐会",
    "this phone": "这部手机",
    "the book": "这本书",
    "the coffee": "咖啡",
    "the weather": "天气",
    "my new job": "我的新工作",
    "the teacher": "老师",
    "the game": "比赛",
    "the show": "演出",
    "the restaurant": "这家餐馆",
    "the trip": "这次旅行",
    "the flight": "航班",
    "the party": "派对",
    "the lecture": "讲座",
    "the new album": "新专辑",
    "the pizza": "比萨",
    "this laptop": "这台笔记本电脑",
    "the museum": "博物馆",
    "the beach": "海滩",
}
POSITIVE_ADJ = {
    "good": "好",
    "great": "棒",
    "wonderful": "精彩",
    "excellent": "出色",
    "amazing": "惊艳",
    "lovely": "令人喜爱",
    "fantastic": "美妙",
    "delightful": "令人愉快",
    "pleasant": "宜人",
    "brilliant": "优秀",
    "perfect": "完美",
    "friendly": "友好",
}
NEGATIVE_ADJ = {
    "bad": "糟",
    "terrible": "糟糕",
    "awful": "差劲",
    "horrible": "可怕",
    "boring": "无聊",
    "disappointing": "令人失望",
    "poor": "差",
    "dreadful": "恶劣",
    "annoying": "烦人",
    "slow": "慢",
    "noisy": "吵",
    "dirty": "脏",
}
ADVERBS = {
    "really": "真的很",
    "very": "非常",
    "quite": "相当",
    "so": "太",
    "truly": "确实很",
    "rather": "比较",
}

NAMES = {
    "anna": ("安娜", "f"),
    "maria": ("玛丽亚", "f"),
    "emma": ("艾玛", "f"),
    "sophie": ("索菲", "f"),
    "laura": ("劳拉", "f"),
    "julia": ("朱莉娅", "f"),
    "lucy": ("露西", "f"),
    "nina": ("尼娜", "f"),
    "sarah": ("莎拉", "f"),
    "olivia": ("奥利维亚", "f"),
    "helen": ("海伦", "f"),
    "rose": ("罗丝", "f"),
    "tom": ("汤姆", "m"),
    "peter": ("彼得", "m"),
    "david": ("大卫", "m"),
    "james": ("詹姆斯", "m"),
    "mark": ("马克", "m"),
    "paul": ("保罗", "m"),
    "sam": ("山姆", "m"),
    "jack": ("杰克", "m"),
    "daniel": ("丹尼尔", "m"),
    "oscar": ("奥斯卡", "m"),
    "victor": ("维克多", "m"),
    "leo": ("利奥", "m"),
}
PRONOUNS = {  # gender -> (subject, object, possessive) in English and Chinese
    "f": (("she", "her", "her"), ("她", "她", "她的")),
    "m": (("he", "him", "his"), ("他", "他", "他的")),
}

CITIES = {
    "london": "伦敦",
    "paris": "巴黎",
    "tokyo": "东京",
    "beijing": "北京",
    "berlin": "柏林",
    "madrid": "马德里",
    "rome": "罗马",
    "sydney": "悉尼",
    "toronto": "多伦多",
    "cairo": "开罗",
    "moscow": "莫斯科",
    "chicago": "芝加哥",
    "boston": "波士顿",
    "seattle": "西雅图",
    "dublin": "都柏林",
    "vienna": "维也纳",
    "shanghai": "上海",
    "singapore": "新加坡",
}
DAYS = {
    "today": "今天",
    "tomorrow": "明天",
    "this weekend": "这个周末",
    "on monday": "星期一",
    "on tuesday": "星期二",
    "on wednesday": "星期三",
    "on thursday": "星期四",
    "on friday": "星期五",
    "on saturday": "星期六",
    "on sunday": "星期天",
    "tonight": "今晚",
    "next week": "下周",
}
DRINKS = {"coffee": "咖啡", "tea": "茶", "hot chocolate": "热巧克力", "green tea": "绿茶", "milk": "牛奶"}
FOODS = {
    "bread": "面包",
    "apples": "苹果",
    "cheese": "奶酪",
    "rice": "米饭",
    "eggs": "鸡蛋",
    "fish": "鱼",
    "oranges": "橙子",
    "noodles": "面条",
    "tomatoes": "西红柿",
    "chicken": "鸡肉",
    "butter": "黄油",
    "bananas": "香蕉",
}
VEGETABLES = {
    "carrots": "胡萝卜",
    "potatoes": "土豆",
    "onions": "洋葱",
    "peppers": "辣椒",
    "mushrooms": "蘑菇",
    "cabbage": "卷心菜",
    "beans": "豆子",
}
FLOWERS = {"rose": "玫瑰", "tulip": "郁金香", "sunflower": "向日葵", "daisy": "雏菊", "lily": "百合"}
CAKES = {"chocolate": "巧克力", "lemon": "柠檬", "strawberry": "草莓", "carrot": "胡萝卜", "cheese": "芝士"}
TOPICS = {
    "history": "历史",
    "space": "太空",
    "birds": "鸟类",
    "the ocean": "海洋",
    "music": "音乐",
    "ancient egypt": "古埃及",
    "computers": "计算机",
    "mountains": "山脉",
}
PRIZES = {
    "holiday": "假期",
    "car": "汽车",
    "phone": "手机",
    "gift card": "礼品卡",
    "cruise": "游轮旅行",
    "laptop": "笔记本电脑",
    "cash prize": "现金奖",
}
PRODUCTS = {
    "watches": "手表",
    "vitamins": "维生素",
    "shoes": "鞋子",
    "insurance": "保险",
    "loans": "贷款",
    "sunglasses": "太阳镜",
}
# an errand as the verb phrase it is in Chinese: "pick up" is 接 for people, 买 for shopping, 取 for
# tickets, 拿 for one's things ("can you pick up ...", "do not forget ...")
ERRANDS = {
    "some milk": "买点牛奶",
    "the kids": "接孩子们",
    "a loaf of bread": "买一条面包",
    "the tickets": "取票",
    "my jacket": "拿我的夹克",
    "some fruit": "买点水果",
}
EVENTS = {
    "the meeting": "会议",
    "dinner": "晚饭",
    "the class": "课",
    "the movie": "电影",
    "practice": "训练",
    "the interview": "面试",
}
# what one does at each event, for "thanks for <event>" (谢谢你陪我<activity>)
EVENT_ACTIVITIES = {
    "the meeting": "开会",
    "dinner": "吃晚饭",
    "the class": "上课",
    "the movie": "看电影",
    "practice": "训练",
    "the interview": "面试",
}
PLACES = {
    "station": "车站",
    "cafe": "咖啡馆",
    "library": "图书馆",
    "park": "公园",
    "gym": "健身房",
    "office": "办公室",
}
