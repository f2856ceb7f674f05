// The date and date-time boxes (input[data-crm-date], app/web/date_fields.py) on forms and list filters.
// The box is plain text: what the user types stays there and the server reads it (2026-11-26,
// 2026/11/26, 2026-12-01 18:00 …). A calendar in the page's language (Air Datepicker, served from
// node_modules) opens as a help and writes into the box only when a day or time is picked.
(function () {
    "use strict";
    if (typeof AirDatepicker === "undefined") { return; }

    var LOCALES = {
        zh: {  // as air-datepicker/locale/zh.js (a CommonJS module, so not loadable as a script here)
            days: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
            daysShort: ["日", "一", "二", "三", "四", "五", "六"],
            daysMin: ["日", "一", "二", "三", "四", "五", "六"],
            months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
            monthsShort: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
            today: "今天", clear: "清除", dateFormat: "yyyy-MM-dd", timeFormat: "HH:mm", firstDay: 1
        },
        en: {
            days: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
            daysShort: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
            daysMin: ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"],
            months: ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                     "October", "November", "December"],
            monthsShort: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
            today: "Today", clear: "Clear", dateFormat: "yyyy-MM-dd", timeFormat: "HH:mm", firstDay: 1
        }
    };
    var lang = (document.documentElement.getAttribute("lang") || "zh").toLowerCase();
    var english = lang.indexOf("en") === 0;

    // the same forms the server takes (app/web/date_fields.py): year first, any of - / . 年月日, an optional time
    var TYPED = /^(\d{4})\s*[-\/.年]\s*(\d{1,2})\s*[-\/.月]\s*(\d{1,2})\s*日?(?:(?:\s+|\s*[Tt]\s*)(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?|\s*分)?)?$/;

    function parse(text) {
        var m = TYPED.exec((text || "").trim());
        if (!m) { return null; }
        var d = new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
        if (d.getMonth() !== +m[2] - 1 || d.getDate() !== +m[3]) { return null; }  // 2026-02-30
        return d;
    }

    function pad(n) { return (n < 10 ? "0" : "") + n; }

    function canonical(d, withTime) {
        var day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
        return withTime ? day + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) : day;
    }

    function attach(input) {
        var withTime = input.getAttribute("data-crm-date") === "datetime";
        var picker = new AirDatepicker(input, {
            locale: english ? LOCALES.en : LOCALES.zh,
            // (the library replaces yyyy only between punctuation or tags, hence the <i>)
            navTitles: english ? {} : {days: "<i>yyyy</i>年 MMMM", months: "<i>yyyy</i>年",
                                       years: "<i>yyyy1</i>年 - <i>yyyy2</i>年"},
            timepicker: withTime,
            autoClose: !withTime,
            keyboardNav: false,  // arrow keys and Enter stay with the text being typed
            isMobile: false,
            buttons: ["clear"],
            position: "bottom left",
            onSelect: function (event) {
                // a day clicked right after typing a time takes that time, not the slider's stale one
                var typed = input.crmTypedTime;
                input.crmTypedTime = null;
                var d = event.date;
                if (!withTime || !typed || !d || Array.isArray(d) || d.toDateString() === typed.toDateString()) { return; }
                if (d.getHours() === typed.getHours() && d.getMinutes() === typed.getMinutes()) { return; }
                picker.selectDate(new Date(d.getFullYear(), d.getMonth(), d.getDate(), typed.getHours(),
                                           typed.getMinutes()), {updateTime: true});
            },
            onShow: function (finished) {
                if (finished) { return; }
                // the calendar opens on the typed day (and time); it rewrites the box only where that
                // changes nothing but the spelling (seconds typed are never dropped by opening it)
                var typed = parse(input.value);
                if (!typed) { return; }
                if (!withTime || typed.getSeconds() === 0) {
                    if (canonical(typed, withTime) !== input.value.trim()) {
                        input.value = canonical(typed, withTime);
                    }
                    picker.selectDate(typed, {silent: true, updateTime: true});
                }
                picker.setViewDate(typed);
            }
        });
        input.crmPicker = picker;
        return picker;
    }

    document.addEventListener("focusin", function (event) {
        var input = event.target;
        if (!input || !input.matches || !input.matches("input[data-crm-date]") || input.crmPicker) { return; }
        attach(input).show();
    });

    // the calendar follows what is typed, without touching the box
    document.addEventListener("input", function (event) {
        var input = event.target;
        if (!input || !input.crmPicker) { return; }
        var typed = parse(input.value);
        input.crmTypedTime = typed;
        if (typed) { input.crmPicker.setViewDate(typed); }
    });
})();
