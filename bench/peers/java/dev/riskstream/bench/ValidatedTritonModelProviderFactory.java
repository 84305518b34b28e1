package dev.riskstream.bench;

import java.lang.reflect.Field;
import java.util.Set;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.model.triton.TritonInferenceModelFunction;
import org.apache.flink.model.triton.TritonModelProviderFactory;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.ModelProviderFactory;
import org.apache.flink.table.ml.ModelProvider;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * Flink's own Triton model provider ({@code flink-model-triton} 2.3.0), with its schema check corrected,
 * as {@code 'provider' = 'triton-validated'}: the bench's ML_PREDICT peer.
 *
 * <p>Two defects of 2.3.0 stop every CREATE MODEL with provider 'triton' before a row is scored:
 * <ol>
 *   <li>the check that a model has one input and one output column of the expected type is inverted
 *       (it passes only when the type differs from the one expected, and the function expects none:
 *       "input column TEXT should be null, but is a STRING"); it is overridden with the intended check;
 *   <li>the function keeps a gzip buffer (a ByteArrayOutputStream, not serializable) in a field, so the
 *       planner cannot serialize it; the field is cleared after construction, and the 'compression'
 *       option, its only user, is refused.
 * </ol>
 * The factory takes the same options and builds the same function and provider; nothing else of the
 * upstream code is changed.
 */
public class ValidatedTritonModelProviderFactory implements ModelProviderFactory {

    public static final String IDENTIFIER = "triton-validated";

    private final TritonModelProviderFactory upstream = new TritonModelProviderFactory();

    @Override
    public ModelProvider createModelProvider(Context context) {
        FactoryUtil.ModelProviderFactoryHelper helper = FactoryUtil.createModelProviderFactoryHelper(this, context);
        helper.validate();
        return new TritonModelProviderFactory.Provider(new Function(context, helper.getOptions()));
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return upstream.requiredOptions();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return upstream.optionalOptions();
    }

    /** Upstream's inference function; its constructor calls the corrected check (public: the planner's generated code names it). */
    public static final class Function extends TritonInferenceModelFunction {

        private static final long serialVersionUID = 1L;

        public Function(ModelProviderFactory.Context context, ReadableConfig config) {
            super(context, config);
            if (getCompression() != null) {
                throw new IllegalArgumentException("'compression' is not supported by " + IDENTIFIER);
            }
            try {
                Field buffer = TritonInferenceModelFunction.class.getDeclaredField("compressionBuffer");
                buffer.setAccessible(true);
                buffer.set(this, null);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("flink-model-triton is not the 2.3.0 this wrapper was written for", e);
            }
        }

        @Override
        protected void validateSingleColumnSchema(ResolvedSchema schema, LogicalType expected, String kind) {
            if (schema.getColumns().size() != 1) {
                throw new IllegalArgumentException(String.format(
                        "Model should have exactly one %s column, but has %d: %s",
                        kind, schema.getColumns().size(), schema.getColumnNames()));
            }
            Column column = schema.getColumns().get(0);
            if (!column.isPhysical()) {
                throw new IllegalArgumentException(
                        String.format("%s column %s should be a physical column", kind, column.getName()));
            }
            LogicalType actual = column.getDataType().getLogicalType();
            if (expected != null && !expected.equals(actual)) {
                throw new IllegalArgumentException(String.format(
                        "%s column %s should be %s, but is a %s", kind, column.getName(), expected, actual));
            }
        }
    }
}
