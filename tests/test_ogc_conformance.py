"""Only what the tests prove: each conformance class the API declares names the tests that prove it."""

from __future__ import annotations

import importlib

from api.ogc.meta import conformance_doc

FEATURES = "tests.test_ogc_features"
TILES = "tests.test_ogc_tiles_processes"
JOBS = "tests.test_jobs"
RECORDS = "tests.test_catalogue_records"
OGC = "http://www.opengis.net/spec"
PROOFS: dict[str, list[str]] = {
    f"{OGC}/ogcapi-common-1/1.0/conf/core": [f"{FEATURES}::test_landing_conformance_openapi"],
    f"{OGC}/ogcapi-common-2/1.0/conf/collections": [
        f"{FEATURES}::test_owslib_lists_collections_and_reads_items_with_bbox_and_filter"],
    f"{OGC}/ogcapi-features-1/1.0/conf/core": [
        f"{FEATURES}::test_owslib_lists_collections_and_reads_items_with_bbox_and_filter",
        f"{FEATURES}::test_paging_through_the_whole_collection_loses_nothing",
        f"{FEATURES}::test_unknown_collection_and_item_are_404", f"{FEATURES}::test_bad_requests_are_400_with_a_message"],
    f"{OGC}/ogcapi-features-1/1.0/conf/geojson": [
        f"{FEATURES}::test_ogr2ogr_copies_parcels_with_same_count_and_geometries",
        f"{FEATURES}::test_cors_and_content_types"],
    f"{OGC}/ogcapi-features-1/1.0/conf/html": [f"{FEATURES}::test_every_resource_has_an_html_page"],
    f"{OGC}/ogcapi-features-1/1.0/conf/oas30": [
        f"{FEATURES}::test_landing_conformance_openapi", f"{TILES}::test_schemathesis_finds_no_server_error",
        f"{FEATURES}::test_api_definition_gives_the_limit_where_gdal_and_qgis_look"],
    f"{OGC}/ogcapi-features-2/1.0/conf/crs": [
        f"{FEATURES}::test_merchich_output_matches_stored_coordinates_to_the_millimetre",
        f"{FEATURES}::test_epsg4326_is_lat_lon_and_crs84_lon_lat"],
    f"{OGC}/ogcapi-features-3/1.0/conf/queryables": [
        f"{FEATURES}::test_landing_conformance_openapi",
        f"{FEATURES}::test_api_definition_lists_each_simple_queryable_as_a_parameter"],
    f"{OGC}/ogcapi-features-3/1.0/conf/queryables-query-parameters": [
        f"{FEATURES}::test_queryables_are_query_parameters", f"{FEATURES}::test_bad_queryable_values_are_400_in_french",
        f"{FEATURES}::test_api_definition_lists_each_simple_queryable_as_a_parameter",
        f"{FEATURES}::test_gdal_sends_where_equalities_to_the_server"],
    f"{OGC}/ogcapi-features-3/1.0/conf/filter": [f"{FEATURES}::test_cql2_text_matrix",
                                                  f"{FEATURES}::test_bad_requests_are_400_with_a_message"],
    f"{OGC}/ogcapi-features-3/1.0/conf/features-filter": [f"{FEATURES}::test_cql2_text_matrix"],
    f"{OGC}/cql2/1.0/conf/cql2-text": [f"{FEATURES}::test_cql2_text_matrix"],
    f"{OGC}/cql2/1.0/conf/cql2-json": [f"{FEATURES}::test_cql2_json_matrix"],
    f"{OGC}/cql2/1.0/conf/basic-cql2": [f"{FEATURES}::test_cql2_text_matrix", f"{FEATURES}::test_cql2_json_matrix"],
    f"{OGC}/cql2/1.0/conf/advanced-comparison-operators": [f"{FEATURES}::test_cql2_text_matrix"],
    f"{OGC}/cql2/1.0/conf/basic-spatial-functions": [f"{FEATURES}::test_cql2_text_matrix",
                                                      f"{FEATURES}::test_cql2_json_matrix"],
    f"{OGC}/ogcapi-tiles-1/1.0/conf/core": [f"{TILES}::test_parcels_tile_holds_every_parcel_of_the_tile",
                                             f"{TILES}::test_tile_errors_and_metadata"],
    f"{OGC}/ogcapi-tiles-1/1.0/conf/tileset": [f"{TILES}::test_tileset_limits_hold_the_tiles_with_data",
                                                f"{TILES}::test_gdal_opens_the_vector_tiles_by_itself"],
    f"{OGC}/ogcapi-tiles-1/1.0/conf/tilesets-list": [f"{TILES}::test_gdal_opens_the_vector_tiles_by_itself"],
    f"{OGC}/ogcapi-tiles-1/1.0/conf/geodata-tilesets": [f"{TILES}::test_gdal_opens_the_vector_tiles_by_itself"],
    f"{OGC}/ogcapi-tiles-1/1.0/conf/mvt": [f"{TILES}::test_parcels_tile_holds_every_parcel_of_the_tile",
                                            f"{TILES}::test_zones_tile_changes_when_the_layer_changes"],
    f"{OGC}/ogcapi-processes-1/1.0/conf/core": [f"{TILES}::test_owslib_executes_the_instruction_process",
                                                 f"{TILES}::test_process_errors"],
    f"{OGC}/ogcapi-processes-1/1.0/conf/ogc-process-description": [
        f"{TILES}::test_owslib_executes_the_instruction_process"],
    f"{OGC}/ogcapi-processes-1/1.0/conf/json": [f"{TILES}::test_permit_process_with_a_footprint_in_merchich"],
    f"{OGC}/ogcapi-processes-1/1.0/conf/job-list": [
        f"{JOBS}::test_each_client_lists_only_its_own_jobs_and_the_queue_is_bounded"],
    f"{OGC}/ogcapi-processes-1/1.0/conf/dismiss": [f"{JOBS}::test_dismissing_an_accepted_job_means_it_never_runs",
                                                    f"{JOBS}::test_dismissing_a_running_job_stops_it_and_keeps_nothing"],
    f"{OGC}/ogcapi-records-1/1.0/conf/core": [f"{RECORDS}::test_owslib_reads_the_catalogue_records",
                                               f"{RECORDS}::test_q_bbox_datetime_and_paging",
                                               f"{RECORDS}::test_bad_parameters_are_400_in_french"],
    f"{OGC}/ogcapi-records-1/1.0/conf/record-core": [f"{RECORDS}::test_owslib_reads_the_catalogue_records"],
    f"{OGC}/ogcapi-records-1/1.0/conf/json": [f"{RECORDS}::test_owslib_reads_the_catalogue_records"],
    f"{OGC}/ogcapi-records-1/1.0/conf/html": [f"{RECORDS}::test_the_catalogue_has_html_pages"],
}


def test_every_declared_conformance_class_has_its_tests():
    """The conformance document is exactly this table's classes, and every test it names exists."""
    assert sorted(conformance_doc()["conformsTo"]) == sorted(PROOFS)
    for uri, tests in PROOFS.items():
        assert tests, uri
        for test in tests:
            module, name = test.split("::")
            assert callable(getattr(importlib.import_module(module), name, None)), f"{uri}: {test} is missing"
