// Searchable selects for large related tables: ask the server as the user types.
$(function () {
    $("select.crm-ajax-select").each(function () {
        var elem = $(this);
        elem.select2({
            allowClear: true,
            placeholder: elem.data("placeholder") || "",
            minimumInputLength: 0,
            ajax: {
                url: elem.data("url"),
                dataType: "json",
                delay: 250,
                data: function (params) { return {q: params.term || ""}; },
                processResults: function (data) { return {results: data.results}; }
            }
        });
    });
});
