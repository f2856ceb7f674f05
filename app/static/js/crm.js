// Texts FAB's and Select2's scripts would show in English, translated by the page (#crm-i18n in
// crm/base.html). This runs before FAB's ready handlers, so the Select2 defaults apply to them too.
(function () {
    var texts = $("#crm-i18n").data("texts") || {};
    if (typeof window.ab_alert === "function") {
        window.ab_alert = (function (original) {
            return function (text) { return original(texts[text] || text); };
        })(window.ab_alert);
    }
    if (!$.fn.select2) { return; }
    $.fn.select2.defaults.set("language", {
        noResults: function () { return texts.noResults; },
        searching: function () { return texts.searching; },
        loadingMore: function () { return texts.loadingMore; },
        errorLoading: function () { return texts.errorLoading; },
        inputTooShort: function () { return texts.inputTooShort; },
        removeAllItems: function () { return texts.removeAllItems; },
        maximumSelected: function () { return texts.maximumSelected; }
    });
    // FAB's ab.js gives every multi-select the placeholder "Select a State"
    var select2 = $.fn.select2;
    $.fn.select2 = function (options) {
        if (options && options.placeholder === "Select a State") {
            arguments[0] = $.extend({}, options, {placeholder: texts.choose});
        }
        return select2.apply(this, arguments);
    };
    $.extend($.fn.select2, select2);
})();

// Searchable selects for large related tables: ask the server as the user types. A list's filter
// row is added when the user picks the filter, so its box is made searchable when it appears.
$(function () {
    function searchable(elem) {
        if (elem.hasClass("select2-hidden-accessible")) { return; }
        elem.select2({
            allowClear: true,
            placeholder: elem.data("placeholder") || "",
            minimumInputLength: 0,
            ajax: {
                url: elem.data("url"),
                dataType: "json",
                delay: 250,
                data: function (params) {
                    var query = {q: params.term || ""};
                    if (elem.data("depends")) {  // e.g. only the chosen customer's tickets
                        query[elem.data("depends-param")] = $("#" + elem.data("depends")).val() || "";
                    }
                    return query;
                },
                processResults: function (data) { return {results: data.results}; }
            }
        });
    }
    $("select.crm-ajax-select").each(function () { searchable($(this)); });
    var filters = document.querySelector("#filter_form .filters");
    if (filters) {
        new MutationObserver(function () {
            $(filters).find("select.crm-ajax-select").each(function () { searchable($(this)); });
        }).observe(filters, {childList: true, subtree: true});
    }
});

// A list's 楼栋 and 房屋 filters: choosing (or clearing) one shows the list narrowed by it; another
// building clears the unit, and an empty filter leaves the address.
$(function () {
    var form = $("#crm-unit-filters");
    form.find("select").on("change", function () {
        if (this.name === "building") { $("#crm-filter-unit").val(null); }
        form.find("select").each(function () { this.disabled = !$(this).val(); });
        form[0].submit();
    });
});

// The inbox bell in the navbar: the unread count, refreshed every minute (signed-in pages only).
$(function () {
    var nav = $(".navbar-right").first();
    if (!nav.length || !$("a[href*='/logout']").length) { return; }
    var item = $('<li id="crm-inbox"><a href="/inbox/"><i class="fa fa-bell"></i> ' +
                 '<span class="badge" id="crm-inbox-count" style="display:none"></span></a></li>');
    item.find("a").attr("title", $("html").attr("lang") === "en" ? "Messages" : "我的消息");
    nav.prepend(item);
    function refresh() {
        $.getJSON("/inbox/unread").done(function (data) {
            var badge = $("#crm-inbox-count");
            badge.text(data.count).toggle(data.count > 0);
        });
    }
    refresh();
    setInterval(refresh, 60000);
});

// The column picker: the ticked columns become ?cols=a,b (kept by saved views and the export).
$(function () {
    $("#crm-columns").on("submit", function () {
        var names = $(this).find(".crm-column:checked").map(function () { return this.value; }).get();
        $(this).find("input[name=cols]").val(names.join(","));
    });
    $("#crm-columns .dropdown-menu").on("click", function (event) { event.stopPropagation(); });
});

// The field-permission matrix: choosing another model shows its fields.
$(function () {
    $("#crm-model").on("change", function () { this.form.submit(); });
});

// A show page's related lists: each panel fetches its rows when it opens; the paging, page-size and
// ordering links inside it reload the panel in place; its delete buttons ask before posting.
$(function () {
    function load(box, url) {
        box.data("loaded", true).empty().append($('<p class="text-muted"></p>').text(box.data("loading")));
        $.get(url).done(function (html) {
            // parsed without its inline scripts (this page's policy refuses them; the handlers below stand in)
            box.empty().append($.parseHTML(html)).attr("data-loaded", "1");
            if (window.AdminActions && !window.modelActions) { window.modelActions = new AdminActions(); }
        }).fail(function () {
            box.data("loaded", false).empty().append($('<p class="text-danger"></p>').text(box.data("error")));
        });
    }
    $(".crm-related").each(function () {
        var box = $(this);
        $("#" + box.data("panel")).on("show.bs.collapse", function () {
            if (!box.data("loaded")) { load(box, box.data("url")); }
        });
    });
    $(document).on("click", ".crm-related a[href*='/related/']", function (event) {
        event.preventDefault();
        load($(this).closest(".crm-related"), this.href);
    });
    $(document).on("click", ".crm-related a[data-delete-url]", function (event) {
        event.preventDefault();
        new AdminActions().execute_single_delete($(this).data("delete-url"), $(this).data("question"));
    });
});
